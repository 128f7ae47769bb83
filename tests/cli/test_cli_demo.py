"""``panacea gemm-demo``: the exact check and counts, and its argument errors."""

from __future__ import annotations

from typer.testing import CliRunner

import panacea
from panacea.cli import app
from panacea.flows.demo import run_gemm_demo

runner = CliRunner()


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
