"""The command line: help, version, gemm-demo and its argument errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import panacea
import panacea.hw as hw
from panacea.cli import app
from panacea.flows.demo import run_gemm_demo

runner = CliRunner()


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("evaluate", "sweep", "report", "gemm-demo", "ptq", "cost"):
        assert command in result.output
        assert f"panacea {command} " in " ".join(result.output.split())  # an example of each


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"panacea {panacea.__version__}"


def test_gemm_demo_prints_the_exact_check_and_counts():
    result = runner.invoke(app, ["gemm-demo", "--tokens", "64", "--in-features", "96", "--out-features", "40"])
    assert result.exit_code == 0, result.output
    for scheme in ("Sibia, sym W7A7", "AQS, asym W7A8", "AQS +ZPM", "AQS +ZPM +DBS"):
        assert scheme in result.output
    assert "NO" not in result.output
    assert "x[64, 96] @ w[40, 96].T" in result.output


def test_gemm_demo_report_matches_the_library():
    report = run_gemm_demo(tokens=32, in_features=48, out_features=16, seed=3)
    assert [row.exact for row in report.rows] == [True] * 4
    sibia, asym, zpm, dbs = report.rows
    assert sibia.counts.skipped in ("activations", "weights")
    assert asym.counts.skipped == "both"
    assert report.zpm_zero_point == panacea.quant.zpm_zero_point(report.zero_point)
    assert asym.counts.dense_mults == 4 * 32 * 48 * 16
    assert dbs.counts.act_vectors == zpm.counts.act_vectors == 8 * 48


def test_gemm_demo_rejects_bad_arguments():
    result = runner.invoke(app, ["gemm-demo", "--tokens", "0"])
    assert result.exit_code == 2
    assert "--tokens" in result.output


def test_ptq_reports_a_missing_model_in_one_line(tmp_path):
    result = runner.invoke(app, ["ptq", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"error: model directory '{tmp_path / 'nope'}' does not exist\n"


def test_ptq_on_a_shipped_encoder_writes_json(tmp_path):
    out = tmp_path / "r.json"
    result = runner.invoke(
        app, ["ptq", "minilm-l6", "--schemes", "fp32,asym", "--out", str(out)], env={"COLUMNS": "160"}
    )
    assert result.exit_code == 0, result.output
    assert "asymmetric W7A8" in result.output
    import json

    data = json.loads(out.read_text())
    assert data["model"] == "minilm-l6" and [s["scheme"] for s in data["schemes"]] == ["fp32", "asym"]


def test_sweep_writes_csv_and_plot_and_prints_the_headline(tmp_path):
    out = tmp_path / "sw"
    result = runner.invoke(app, ["sweep", "--out", str(out), "--levels", "0,0.95", "--sizes", "tiny=64x128x128"])
    assert result.exit_code == 0, result.output
    assert "max speedup over SA-WS" in result.output and "DTP gain" in result.output
    assert (out / "sweep.csv").read_text().count("\n") == 1 + 8 * 4
    assert (out / "sweep.png").stat().st_size > 0


def test_cost_prints_every_design_and_accepts_a_user_spec(tmp_path):
    spec = tmp_path / "wide.toml"
    text = (Path(panacea.__file__).parent / "hw" / "specs" / "panacea.toml").read_text()
    spec.write_text(
        text.replace('name = "Panacea"', 'name = "Panacea 8D"').replace("dwo_per_pea = 4", "dwo_per_pea = 8")
    )
    result = runner.invoke(
        app, ["cost", "--shape", "256x256x128", "--spec", "panacea", "--spec", str(spec), "--spec", "sibia"]
    )
    assert result.exit_code == 0, result.output
    for name in ("Panacea", "Panacea 8D", "Sibia", "TOPS/W", "cycles", "area (mm2)", "compensators", "TOPS/mm2"):
        assert name in result.output
    area = next(line for line in result.output.splitlines() if "area (mm2)" in line)
    assert f"{sum(hw.load('sibia').area_mm2().values()):.3f}" in area
    assert "Panacea 8D mapping (search, energy): sub_tile_rows=" in result.output
    fixed = runner.invoke(app, ["cost", "--shape", "256x256x128", "--spec", "sa-os", "--mapping", "fixed"])
    assert "SA-OS mapping (fixed, energy): " in fixed.output and "tile/block" in fixed.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cost", "--shape", "12x3"], "shape must look like NxKxM"),
        (["cost", "--spec", "tpu"], "neither a shipped design"),
        (["cost", "--energy", "/nonexistent.toml"], "is not a file"),
        (["cost", "--mapping", "best"], "--mapping must be one of search, fixed, not 'best'"),
        (["sweep", "--objective", "power"], "--objective must be one of energy, latency, edp"),
        (["sweep", "--levels", "0,2"], "levels must be comma-separated numbers in [0, 1]"),
        (["sweep", "--sizes", "big"], "sizes must be name=NxKxM items"),
        (["sweep", "--out", "/proc/panacea-sweep"], "cannot create the output directory"),
    ],
)
def test_hardware_commands_reject_bad_input_in_one_line(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output
    assert result.output.count("\n") == 1
