"""``panacea rtl``: vectors of a real layer, simulation, Verilog; bad input is one clear error."""

import pytest
from typer.testing import CliRunner

from panacea.cli import app
from panacea.rtl.vectors import read_vectors

runner = CliRunner()
LAYER = "model.layers.3.self_attn.q_proj"


@pytest.mark.slow
def test_vectors_and_simulate_on_a_real_layer(tmp_path):
    args = ["--layer", LAYER, "--tiles", "0:0,7:3", "--rows", "2", "--kc", "16", "--tokens", "64"]
    result = runner.invoke(app, ["rtl", "vectors", "smollm2-135m", *args, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    tile = read_vectors(tmp_path / "tile-7-3-0")
    assert (tile.rows, tile.kc, tile.vector) == (2, 16, 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tile-0-0-0", "tile-7-3-0"]
    result = runner.invoke(app, ["rtl", "simulate", "smollm2-135m", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if "0:0" in line or "7:3" in line]
    assert len(rows) == 2 and all(line.split("│")[7].strip() == "0" for line in rows)  # no mismatch


def test_verilog_of_a_block(tmp_path):
    result = runner.invoke(app, ["rtl", "verilog", "--block", "opc", "--out", str(tmp_path / "opc.v")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "opc.v").read_text()
    assert "module opc" in text and text.count("endmodule") >= 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["verilog", "--block", "alu", "--out", "x.v"], "--block"),
        (["simulate", "smollm2-135m", "--layer", LAYER, "--tiles", "0-0"], "--tiles"),
        (["vectors", "smollm2-135m", "--layer", LAYER, "--out", "o", "--spec", "sibia"], "--spec"),
    ],
)
def test_bad_input_is_one_error_naming_the_option(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["rtl", *args])
    assert result.exit_code == 2 and message in result.output, result.output
    assert list(tmp_path.iterdir()) == []
