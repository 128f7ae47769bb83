"""Schemes from files, profiles and --set through `panacea evaluate`, end to end on a tiny model."""

from __future__ import annotations

import pytest
from tiny_models import save_tiny_llama
from typer.testing import CliRunner

from panacea.cli import app
from panacea.results import Results

runner = CliRunner()
TINY = ["--tokens", "64", "--calib-tokens", "64", "--seqlen", "32", "--batch-size", "2"]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


def test_a_new_scheme_from_a_file_runs_end_to_end_with_no_code_change(tiny_dir, tmp_path):
    mine = tmp_path / "dbs-t60.toml"
    mine.write_text(
        'name = "dbs-t60"\nlabel = "DBS at target 0.6"\nformat = "bitslice-asym"\n'
        '[calibration]\nzpm = "search"\ndbs = true\ndbs_target = 0.6\nw_granularity = "tensor"\n'
    )
    out = tmp_path / "run"
    args = ["evaluate", tiny_dir, *TINY, "--schemes", f"sym,{mine}", "--accelerators", "panacea,sibia,simd"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    res = Results.load(out)
    assert res.config["schemes"] == ["sym", str(mine)]
    assert [(s.scheme, s.label, s.format) for s in res.schemes] == [
        ("sym", "symmetric W7A7 (Sibia)", "bitslice-sym"),
        ("dbs-t60", "DBS at target 0.6", "bitslice-asym"),
    ]
    assert res.scheme("dbs-t60").calibration["dbs_target"] == 0.6
    assert res.scheme("dbs-t60").calibration["w_granularity"] == "tensor"
    assert res.scheme("sym").calibration["w_granularity"] == "channel"  # the accurate profile's
    runs = {(c.accelerator, c.scheme, c.variant) for c in res.costs}
    assert runs == {
        ("sibia", "sym", ""),
        ("simd", "dbs-t60", ""),  # the dense design runs the main (bitslice-asym) scheme
        ("panacea", "dbs-t60", ""),
        ("panacea", "dbs-t60", "dtp-off"),
        ("panacea", "dbs-t60", "zero-only"),
        ("panacea", "sym", "sym-on-panacea"),
    }
    assert "DBS at target 0.6" in (out / "report.md").read_text()


def test_the_profile_and_set_reach_the_recipes(tiny_dir, tmp_path):
    out = tmp_path / "run"
    args = ["evaluate", tiny_dir, *TINY, "--schemes", "sym,dbs", "--accelerators", "panacea,sibia"]
    result = runner.invoke(app, [*args, "--profile", "paper", "--set", "dbs_target=0.6", "--out", str(out)])
    assert result.exit_code == 0, result.output
    res = Results.load(out)
    assert (res.config["profile"], res.config["assumptions"]) == ("paper", {"dbs_target": 0.6})
    for s in res.schemes:
        assert s.calibration["w_granularity"] == "tensor"
        assert s.calibration["overrides"] == [{"pattern": "*.mlp.down_proj", "x_bits": 12} | _nulls()]
    assert res.scheme("dbs").calibration["dbs_target"] == 0.6


def _nulls() -> dict:
    return {"w_bits": None, "w_granularity": None, "w_group_size": None, "skip": False}


@pytest.mark.parametrize(
    ("scheme", "accelerators", "message"),
    [
        ('format = "arbitrary"\nname = "a"\nlabel = "a"\n', "panacea", "panacea computes on bitslice-asym numbers"),
        ('format = "bitslice-asym"\nname = "sym"\nlabel = "a"\n', "sibia", "both named 'sym'"),
        ('format = "bitslice-asym"\nname = "a"\nlabel = "a"\n[calibration]\nw_bits = 5\n', "panacea", "w_bits"),
    ],
)
def test_a_scheme_a_design_cannot_run_is_one_line(tiny_dir, tmp_path, scheme, accelerators, message):
    path = tmp_path / "s.toml"
    path.write_text(scheme)
    out = tmp_path / "out"
    args = ["evaluate", tiny_dir, "--schemes", f"sym,{path}", "--accelerators", accelerators, "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.output
    assert message in result.stderr and not out.exists()


def test_fig19_four_bit_weights_on_both_bit_slice_designs(tiny_dir, tmp_path):
    from panacea.report.tables import fig19_table
    from panacea.results.queries import fig19_pairs

    out = tmp_path / "run"
    args = ["evaluate", tiny_dir, *TINY, "--schemes", "sym,dbs,optq4,sym-optq4", "--accelerators", "panacea,sibia"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    res = Results.load(out)
    sibia_runs = {c.scheme for c in res.costs if c.accelerator == "sibia"}
    assert sibia_runs == {"sym", "sym-optq4"}  # every bitslice-sym scheme
    pairs = fig19_pairs(res)
    assert {bits: (p.scheme, q.scheme) for bits, (p, q) in pairs.items()} == {
        7: ("dbs", "sym"),
        4: ("optq4", "sym-optq4"),
    }
    table = fig19_table(res)
    assert [r[0] for r in table.rows] == ["W7", "W4"]
    p4, q4 = pairs[4]
    assert table.rows[1][3] == f"{p4.energy_j / q4.energy_j:.2f}"
    assert table.rows[1][4] == f"{q4.seconds / p4.seconds:.2f}x"
    assert "Fig. 19" in (out / "report.md").read_text() and "Fig. 19" in result.output


def test_one_observing_pass_calibrates_every_scheme_as_alone():
    """Bit-slice and arbitrary schemes calibrated together (one observing pass) get the recipes and
    codebooks each gets alone."""
    import torch
    from tiny_models import tiny_llama, token_batches

    from panacea.flows.pipeline import calibrate
    from panacea.quant import calibrate_many
    from panacea.quant.arbitrary import calibrate_aq
    from panacea.schemes import load_profile, load_schemes, resolve

    model, batches = tiny_llama(), token_batches(96, 3)
    schemes = [resolve(s, load_profile("accurate"), "llama") for s in load_schemes(("zpm", "dbs", "aq"))]
    together = calibrate(model, batches, schemes)
    alone = calibrate_many(model, batches, {s.name: s.calibration for s in schemes[:2]})
    alone["aq"] = calibrate_aq(model, batches, schemes[2].calibration)
    for name in ("zpm", "dbs"):
        assert together[name].layers == alone[name].layers
        assert all(torch.equal(together[name].tensors[k], v) for k, v in alone[name].tensors.items())
    assert together["aq"].keys() == alone["aq"].keys()
    for name, layer in alone["aq"].items():
        got = together["aq"][name]
        assert got.x_scale == layer.x_scale and torch.equal(got.x_cb.levels, layer.x_cb.levels)
        assert torch.equal(got.w_cb.levels, layer.w_cb.levels) and torch.equal(got.w_codes, layer.w_codes)
