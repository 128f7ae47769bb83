"""``panacea ptq``: a missing model is one line; a shipped encoder's study is written as JSON.
(``panacea evaluate`` and ``panacea report`` end to end: tests/flows/test_evaluate.py.)"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from panacea.cli import app

runner = CliRunner()


def test_ptq_reports_a_missing_model_in_one_line(tmp_path):
    result = runner.invoke(app, ["ptq", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"error: model directory '{tmp_path / 'nope'}' does not exist\n"


def test_ptq_rejects_a_change_that_is_no_assignment():
    result = runner.invoke(app, ["ptq", "minilm-l6", "--set", "dbs_target"])
    assert result.exit_code == 2
    assert result.stderr == "error: --set takes KEY=VALUE, got 'dbs_target'\n"


def test_ptq_on_a_shipped_encoder_writes_json(tmp_path):
    out = tmp_path / "r.json"
    result = runner.invoke(
        app, ["ptq", "minilm-l6", "--schemes", "fp32,asym", "--out", str(out)], env={"COLUMNS": "160"}
    )
    assert result.exit_code == 0, result.output
    assert "asymmetric W7A8" in result.output

    data = json.loads(out.read_text())
    assert data["model"] == "minilm-l6" and [s["scheme"] for s in data["schemes"]] == ["fp32", "asym"]
    # the encoder's study: the float model is its own reference, the quantized one close to it
    fp32, asym = (s["metrics"]["embedding_cosine_to_fp32"] for s in data["schemes"])
    assert fp32 == pytest.approx(1.0) and 0.9 < asym <= 1.0
