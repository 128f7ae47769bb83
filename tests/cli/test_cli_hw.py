"""``panacea sweep``, ``panacea cost`` and ``panacea aq-peak``: their outputs and their one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import panacea
import panacea.hw as hw
from panacea.cli import app
from panacea.schemes import activations_of_kind

runner = CliRunner()


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
        (["sweep", "--sizes", ","], "sizes must name at least one name=NxKxM size"),
        (["cost", "--spec", "aq-bitserial"], "AQ-BitSerial runs arbitrarily quantized workloads"),
        (["aq-peak", "--spec", "panacea"], "spec 'panacea' is a panacea design; aq-peak takes a bitserial one"),
    ],
)
def test_hardware_commands_reject_bad_input_in_one_line(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output
    assert result.output.count("\n") == 1


def test_each_design_costs_the_synthetic_workload_of_its_scheme():
    kinds = {"panacea": "asym", "sibia": "sym", "systolic": "asym", "simd": "asym"}
    assert {kind: activations_of_kind(kind) for kind in kinds} == kinds
    with pytest.raises(ValueError, match="arbitrary"):
        activations_of_kind("bitserial")


def test_aq_peak_prints_every_code_width_beside_the_paper():
    result = runner.invoke(app, ["aq-peak", "--sparsity", "0.5"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "AQ-BitSerial: peak at 50% zero codes" in result.output
    rows = [line.split("│")[1].strip() for line in result.output.splitlines() if line.startswith("│")]
    assert rows == [str(bits) for bits in range(1, 9)]
