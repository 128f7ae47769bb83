"""`panacea reproduce` end to end on a tiny model: the files, their documented keys, the claims that
apply, agreement with the evaluate results they come from, the shared cache, and bad input."""

from __future__ import annotations

import json

import pytest
from conftest import REPRODUCE_TINY
from typer.testing import CliRunner

from panacea.cli import app
from panacea.flows.reproduce import PROFILES, SCHEMES, Reproduction
from panacea.flows.reproduce.sensitivity import METRICS, shipped_assumptions
from panacea.results import Results
from panacea.results.paper import NO_MODEL, SYNTHETIC, paper

runner = CliRunner()


def _claims_for_a_causal_lm() -> list[str]:
    doc = paper()
    return [c.id for c in doc.claims if c.model in (NO_MODEL, SYNTHETIC) or "causal-lm" in doc.models[c.model].kinds]


def test_writes_both_files_with_the_documented_keys(tiny_reproduction):
    out, output = tiny_reproduction
    doc = json.loads((out / "reproduce.json").read_text())
    assert isinstance(doc["rows"], list) and isinstance(doc["sensitivity"], list)
    for row in doc["rows"]:
        for key in ("id", "claim", "paper", "paper_model", "model", "ours"):
            assert key in row, key
        assert isinstance(row["paper"], float) and set(row["ours"]) == set(PROFILES)
        assert all(v is None or isinstance(v, float) for v in row["ours"].values())
    for entry in doc["sensitivity"]:
        for key in ("assumption", "value", "metric", "model", "ours"):
            assert key in entry, key
    md = (out / "reproduce.md").read_text()
    assert "## The paper's claims beside ours" in md and "## Sensitivity around the paper profile" in md
    for name in ("tornado-tiny-llama.png", "sweep.csv", "sweep.png"):
        assert (out / name).stat().st_size > 0, name
    assert "fig16-ee-sibia-gpt2" in output  # the console table


def test_the_rows_are_the_claims_that_apply_to_the_model(tiny_reproduction):
    out, _ = tiny_reproduction
    repro = Reproduction.load(out)
    applies = _claims_for_a_causal_lm()
    assert [r.id for r in repro.rows] == applies  # in the paper file's order
    assert 30 <= len(applies) < len(paper().claims)
    skipped = {n["claim"].split(":")[0] for n in repro.not_computed}
    assert skipped >= {c.id for c in paper().claims} - set(applies)  # the encoder and CNN claims, with why
    assert all(r.ours[p] is not None for r in repro.rows for p in PROFILES)  # every metric computable


def test_claims_agree_with_the_evaluate_results_of_each_profile(tiny_reproduction, tiny_llama_dir):
    out, _ = tiny_reproduction
    repro = Reproduction.load(out)
    rows = {r.id: r for r in repro.rows}
    for profile in PROFILES:
        res = Results.load(out / "tiny-llama" / profile)
        assert res.config["profile"] == profile and res.config["schemes"] == list(SCHEMES)
        panacea, sibia, simd = (res.cost(d, s) for d, s in (("panacea", "dbs"), ("sibia", "sym"), ("simd", "dbs")))
        assert rows["fig16-ee-sibia-gpt2"].ours[profile] == pytest.approx(panacea.tops_per_watt / sibia.tops_per_watt)
        assert rows["fig17-speedup-simd-opt-2.7b"].ours[profile] == pytest.approx(simd.cycles / panacea.cycles)
        dram = [c.dram_bits_read + c.dram_bits_written for c in (panacea, sibia)]
        assert rows["ema-vs-sibia-gpt2"].ours[profile] == pytest.approx(1 - dram[0] / dram[1])
        assert rows["mac-reduction"].ours[profile] == pytest.approx(1 - res.scheme("dbs").mults_vs_dense)
        assert rows["fig17-ppl-opt"].accuracy[profile] == res.scheme("dbs").metrics["perplexity"]
    row = rows["fig16-ee-sibia-gpt2"]
    assert row.paper == 2.03 and row.paper_model == "GPT-2" and row.model == tiny_llama_dir
    assert row.ratio["paper"] == pytest.approx(row.ours["paper"] / 2.03)
    assert row.within["paper"] == (abs(row.ratio["paper"] - 1) <= 0.25)


def test_the_profiles_differ_only_in_weight_granularity_and_share_the_cache(tiny_reproduction):
    out, _ = tiny_reproduction
    paper_res, accurate = (Results.load(out / "tiny-llama" / p) for p in PROFILES)
    for s in SCHEMES:
        a, b = paper_res.scheme(s).calibration, accurate.scheme(s).calibration
        differ = {k for k in a if a[k] != b[k]}
        assert differ <= {"w_granularity"}, (s, differ)
    # The 4-bit schemes fix their own group-64 weights: the same under both profiles, run once.
    assert [s.scheme for s in accurate.schemes if s.cached] == ["optq4", "sym-optq4"]
    assert paper_res.scheme("dbs").calibration["w_granularity"] == "tensor"


def test_the_sensitivity_varies_every_assumption_around_the_paper_profile(tiny_reproduction):
    out, _ = tiny_reproduction
    repro = Reproduction.load(out)
    paper_rows = {r.id: r for r in repro.rows}
    points = {(s.assumption, s.value, s.metric): s for s in repro.sensitivity}
    for a in shipped_assumptions():
        base_label = a.base_label("search")
        for value in (base_label, *(v.label for v in a.values_around("search"))):
            for metric in METRICS:
                assert (a.name, value, metric) in points, (a.name, value, metric)
        base = points[a.name, base_label, "EE gain over Sibia"]
        assert base.base and base.change == 0
        # the base point is the paper profile's claim, computed the same way
        assert base.ours == pytest.approx(paper_rows["fig16-ee-sibia-gpt2"].ours["paper"])
    # the channel granularity point is the accurate profile's run (the cache shares it)
    channel = points["weight granularity", "channel", "speed-up over Sibia"]
    assert channel.ours == pytest.approx(paper_rows["fig16-speedup-sibia-gpt2"].ours["accurate"])
    dwo8 = points["DWO:SWO split", "8 + 4", "speed-up over Sibia"]
    assert dwo8.change != 0  # a hardware assumption moves the comparison


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sensitivity", "some"], "sensitivity: Input should be 'all', 'hardware' or 'none'"),
        (["./no-such-model"], "model directory './no-such-model' does not exist"),
        (["minilm-l6", "minilm-l6"], "models must be distinct"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(args, message, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["reproduce", *args, *REPRODUCE_TINY, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (out / "reproduce.json").exists()


def test_report_rerenders_a_reproduction_without_recomputing(tiny_reproduction, tmp_path):
    out, _ = tiny_reproduction
    (tmp_path / "reproduce.json").write_bytes((out / "reproduce.json").read_bytes())
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "reproduce.md").read_text() == (out / "reproduce.md").read_text()
    assert (tmp_path / "tornado-tiny-llama.png").stat().st_size > 0
    (tmp_path / "reproduce.json").write_text(json.dumps({"schema_version": 99}))
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "schema_version 99; this panacea reads 1" in result.stderr
    (tmp_path / "reproduce.json").write_text(json.dumps({"schema_version": 1, "rows": []}))
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "not a valid reproduction: panacea_version: Field required" in result.stderr
