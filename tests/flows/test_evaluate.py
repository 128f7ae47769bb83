"""`panacea evaluate` and `panacea report` end to end: files, schema, agreement with the library,
the cache, and bad input."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from tiny_models import save_tiny_llama
from typer.testing import CliRunner

import panacea
import panacea.hw as hw
from panacea.cli import app
from panacea.core.intmm_backends import BACKENDS, ENV_VAR
from panacea.flows.evaluate import EvaluateConfig, evaluate
from panacea.models.loaders import load_model
from panacea.quant import CalibrationConfig, LayerOverride, calibrate_many, capture, quantized
from panacea.quant.arbitrary import AQConfig, aq_quantized, calibrate_aq
from panacea.results import Results
from panacea.tasks import make_task

# The shipped schemes under the accurate profile, written out by hand: what the data must give.
LLAMA_12BIT_DOWN_PROJ = (LayerOverride(pattern="*.mlp.down_proj", x_bits=12),)
BY_HAND = {
    "sym": CalibrationConfig(scheme="sym", zpm="off", dbs=False, overrides=LLAMA_12BIT_DOWN_PROJ),
    "dbs": CalibrationConfig(overrides=LLAMA_12BIT_DOWN_PROJ),
}

runner = CliRunner()
FILES = (
    "results.json",
    "layers.csv",
    "layer_costs.csv",
    "report.md",
    "fig14_vector_sparsity.png",
    "fig15_energy_breakdown.png",
    "fig16_vs_baselines.png",
    "fig18_asym_sym_zero_skip.png",
)
TINY = ["--tokens", "64", "--calib-tokens", "64", "--seqlen", "32", "--batch-size", "2"]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="module")
def tiny_run(tiny_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny-run")
    result = runner.invoke(app, ["evaluate", tiny_dir, *TINY, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output


def _csv_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_writes_every_file_with_a_valid_schema(tiny_run, tiny_dir):
    out, output = tiny_run
    for name in FILES:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    doc = json.loads((out / "results.json").read_text())
    assert doc["schema_version"] == 1 and doc["panacea_version"] == panacea.__version__
    assert doc["config"]["model"] == tiny_dir and doc["config"]["schemes"] == ["sym", "asym", "zpm", "dbs", "aq"]
    res = Results.load(out)
    assert [s.scheme for s in res.schemes] == ["sym", "asym", "zpm", "dbs", "aq"]
    assert res.data["windows"] == 2 and res.data["overrides"] == [{"pattern": "*.mlp.down_proj", "x_bits": 12}]
    runs = {(c.accelerator, c.scheme, c.variant) for c in res.costs}
    assert runs == {
        ("sibia", "sym", ""),
        *((d, "dbs", "") for d in ("simd", "sa-ws", "sa-os")),
        *(("panacea", s, v) for s in ("asym", "zpm", "dbs") for v in ("", "dtp-off")),
        ("panacea", "dbs", "zero-only"),
        ("panacea", "sym", "sym-on-panacea"),
        ("aq-bitserial", "aq", ""),
    }
    layers = _csv_rows(out / "layers.csv")
    assert len(layers) == 5 * 14  # 14 GEMMs of the tiny Llama (LM head left in floating point)
    costs = _csv_rows(out / "layer_costs.csv")
    assert len(costs) == len(res.costs) * 14
    assert all(row["mapping"] and row["mapping_outer"] in ("weights", "activations") for row in costs)
    assert {row["mapping_tile_tokens"] != "" for row in costs if row["design"] == "Panacea"} == {True}
    assert res.config["mapping"] == "search" and all(layer.mapping for c in res.costs for layer in c.layers)
    report = (out / "report.md").read_text()
    assert all(f"]({name})" in report for name in FILES if name.endswith(".png"))
    for text in ("speed-up", "ablation (Fig. 15)", "Fig. 18 on Panacea", "report:"):
        assert text in output or text in report


def test_numbers_agree_with_the_library(tiny_run, tiny_dir):
    out, _ = tiny_run
    res = Results.load(out)
    lm = load_model(tiny_dir)
    task = make_task(lm, tokens=64, calib_tokens=64, seqlen=32, batch_size=2)
    recipes = calibrate_many(lm.model, task.batches, BY_HAND)
    assert res.fp32["perplexity"] == pytest.approx(task.score(lm.model, None)["perplexity"], rel=1e-6)
    workloads = {}
    for scheme, recipe in recipes.items():
        with quantized(lm.model, recipe) as q, capture(q) as rec:
            metrics = task.score(q, None)
        assert res.scheme(scheme).metrics["perplexity"] == pytest.approx(metrics["perplexity"], rel=1e-6)
        assert res.scheme(scheme).act_vector_sparsity == pytest.approx(rec.mean_vector_sparsity()[0])
        workloads[scheme] = rec.workloads()
    for name, scheme in (("panacea", "dbs"), ("sibia", "sym"), ("sa-os", "dbs")):
        direct = hw.load(name).run(workloads[scheme])
        record = res.cost(name, scheme)
        assert (record.cycles, record.macs) == (direct.cycles, direct.macs)
        assert record.dram_bits_read == direct.dram_bits_read
        assert record.energy_pj == pytest.approx(direct.energy_pj)
        assert record.tops_per_watt == pytest.approx(direct.tops_per_watt)
        assert record.area_mm2 == pytest.approx(hw.load(name).area_mm2()) and record.tops_per_mm2 > 0
        assert sum(layer.cycles for layer in record.layers) == direct.cycles
    no_dtp = hw.model_for(hw.with_core(hw.load("panacea").spec, dtp=False)).run(workloads["dbs"])
    assert res.cost("panacea", "dbs", "dtp-off").cycles == no_dtp.cycles
    # the arbitrary-quantization accelerator on the model quantized with its own codebooks
    layers = calibrate_aq(lm.model, task.batches, AQConfig())
    with aq_quantized(lm.model, layers, capture=True) as rec:
        metrics = task.score(lm.model, None)
    assert res.scheme("aq").metrics["perplexity"] == pytest.approx(metrics["perplexity"], rel=1e-6)
    direct, record = hw.load("aq-bitserial").run(rec.workloads()), res.cost("aq-bitserial", "aq")
    assert (record.cycles, record.macs, record.dram_bits_read) == (direct.cycles, direct.macs, direct.dram_bits_read)
    assert record.energy_pj == pytest.approx(direct.energy_pj)


def test_resume_reuses_the_cache_and_only_computes_what_is_new(tiny_dir, tmp_path):
    out = tmp_path / "run"
    config = EvaluateConfig(model=tiny_dir, tokens=64, calib_tokens=64, seqlen=32, batch_size=2)
    first = evaluate(config, out, resume=True)  # nothing cached yet
    assert not any(s.cached for s in first.schemes)
    again = evaluate(config, out, resume=True)
    assert all(s.cached for s in again.schemes)
    assert [s.metrics for s in again.schemes] == [s.metrics for s in first.schemes]
    assert [c.model_dump() for c in again.costs] == [c.model_dump() for c in first.costs]
    # A new scheme is computed, the others come from the cache; a damaged entry is recomputed.
    damaged = next((out / "cache").glob("asym-*")) / "capture.safetensors"
    damaged.write_bytes(b"not a safetensors file")
    schemes = ("sym", "asym", "zpm", "dbs", "aq", "zpm-paper")
    more = evaluate(config.model_copy(update={"schemes": schemes}), out, resume=True)
    assert {s.scheme: s.cached for s in more.schemes} == {
        "sym": True,
        "asym": False,
        "zpm": True,
        "dbs": True,
        "aq": True,
        "zpm-paper": False,
    }
    assert more.scheme("asym").metrics == first.scheme("asym").metrics
    # Without --resume everything is recomputed; other data is another cache entry.
    assert not any(s.cached for s in evaluate(config, out).schemes)


def _without_timings(doc: dict) -> dict:
    """``results.json`` less what differs between two runs of the same configuration: timings, the
    date and the integer GEMM back end."""
    doc = {k: v for k, v in doc.items() if k not in ("seconds", "created", "intmm")}
    doc["schemes"] = [{k: v for k, v in s.items() if k != "seconds"} for s in doc["schemes"]]
    return doc


def test_every_integer_back_end_gives_identical_results(tiny_dir, tmp_path, monkeypatch):
    """Forcing each back end: the same results.json (less timings) and layer_costs.csv, bit for bit;
    the back end is printed in the header and recorded."""
    runs = {}
    for backend in BACKENDS:
        monkeypatch.setenv(ENV_VAR, backend)
        out = tmp_path / backend
        result = runner.invoke(app, ["evaluate", tiny_dir, *TINY, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert f"integer GEMMs on cpu: {backend} (forced by {ENV_VAR})" in result.stdout
        doc = json.loads((out / "results.json").read_text())
        assert doc["intmm"] == {"cpu": {"backend": backend, "forced": True, "exact": {backend: True}, "probe_ms": {}}}
        runs[backend] = (
            _without_timings(doc),
            (out / "layer_costs.csv").read_bytes(),
            (out / "layers.csv").read_bytes(),
        )
    assert runs["int8"] == runs["float32"] == runs["float64"]


def test_a_bad_integer_back_end_is_one_line(tiny_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "fp16")
    result = runner.invoke(app, ["evaluate", tiny_dir, *TINY, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and result.stdout == "" and not (tmp_path / "o").exists()
    assert (
        result.stderr
        == f"error: {ENV_VAR} must be one of ['int8', 'float32', 'float64'] (or unset: the fastest exact), got 'fp16'\n"
    )


def test_report_rerenders_without_recomputing(tiny_run, tmp_path):
    out, _ = tiny_run
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "results.json").write_bytes((out / "results.json").read_bytes())
    result = runner.invoke(app, ["report", str(copy)])
    assert result.exit_code == 0, result.output
    for name in FILES:
        assert (copy / name).is_file(), name
    assert (copy / "layers.csv").read_bytes() == (out / "layers.csv").read_bytes()
    assert (copy / "report.md").read_text() == (out / "report.md").read_text()
    assert "EE gain" in result.output and "ablation (Fig. 15)" in result.output  # the tables, printed


def test_report_rejects_what_is_not_a_results_directory(tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "holds no results.json" in result.stderr
    (tmp_path / "results.json").write_text(json.dumps({"schema_version": 99}))
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "schema_version 99; this panacea reads 1" in result.stderr
    (tmp_path / "results.json").write_text(json.dumps({"schema_version": 1, "model": {}}))
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "not a valid results file: panacea_version: Field required" in result.stderr


@pytest.fixture()
def bad_spec(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text((Path(hw.__file__).parent / "specs" / "panacea.toml").read_text().replace("[core]", "[cores]"))
    return str(path)


@pytest.mark.parametrize(
    "args, message",
    [
        (["no-such-org/no-such-model"], "cannot load 'no-such-org/no-such-model'"),
        (["./no-such-directory"], "model directory './no-such-directory' does not exist"),
        (["minilm-l6", "--accelerators", "panacea,tpu"], "spec 'tpu' is neither a shipped design"),
        (["minilm-l6", "--accelerators", "BAD_SPEC"], "bad.toml"),
        (["minilm-l6", "--schemes", "asym,fp16"], "scheme 'fp16' is neither a shipped scheme"),
        (["minilm-l6", "--schemes", "asym,asym"], "schemes must be distinct"),
        (["minilm-l6", "--schemes", "asym"], "accelerator sibia computes on bitslice-sym numbers"),
        (["minilm-l6", "--schemes", "sym,dbs", "--accelerators", "aq-bitserial"], "(shipped: aq)"),
        (["minilm-l6", "--profile", "papers"], "profile 'papers' is neither a shipped profile"),
        (["minilm-l6", "--set", "w_granularity=row"], "assumptions.w_granularity: Input should be"),
        (["minilm-l6", "--set", "w_bit=4"], "assumptions.w_bit: not a calibration field"),
        (["minilm-l6", "--set", "w_granularity"], "--set takes KEY=VALUE"),
        (["minilm-l6", "--set", "w_granularity=group"], "w_group_size is required with w_granularity 'group'"),
        (["minilm-l6", "--data", "wikipedia"], "data for an encoder must be polarity"),
        (["TINY", *TINY, "--data", "EMPTY"], "holds 0 tokens"),
        (["minilm-l6", "--out", "FILE/results"], "is not a directory"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(args, message, tmp_path, bad_spec, tiny_dir):
    empty, file = tmp_path / "empty.txt", tmp_path / "file"
    empty.write_text("")
    file.write_text("")
    subst = {"BAD_SPEC": bad_spec, "TINY": tiny_dir, "EMPTY": str(empty), "FILE/results": str(file / "results")}
    args = [subst.get(a, a) for a in args]
    out = tmp_path / "out"
    if "--out" not in args:
        args += ["--out", str(out)]
    result = runner.invoke(app, ["evaluate", *args])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr
    assert not out.exists()


@pytest.mark.slow
def test_minilm_end_to_end(tmp_path):
    """The shipped encoder through the CLI; its numbers against the library called directly."""
    out = tmp_path / "minilm"
    result = runner.invoke(app, ["evaluate", "minilm-l6", "--out", str(out), "--schemes", "sym,dbs"])
    assert result.exit_code == 0, result.output
    assert all((out / name).is_file() for name in FILES)
    res = Results.load(out)
    assert res.fp32 == {"embedding_cosine_to_fp32": pytest.approx(1.0), "polarity_accuracy": pytest.approx(0.74)}
    lm = load_model("minilm-l6")
    task = make_task(lm)
    recipes = calibrate_many(lm.model, task.batches, {"dbs": CalibrationConfig()})  # a BERT: no overrides
    task.score(lm.model, None)  # the float reference first
    with quantized(lm.model, recipes["dbs"]) as q, capture(q) as rec:
        metrics = task.score(q, None)
    assert res.scheme("dbs").metrics == pytest.approx(metrics)
    direct = hw.load("panacea").run(rec.workloads())
    assert res.cost("panacea", "dbs").cycles == direct.cycles
    assert res.cost("panacea", "dbs").tops_per_watt == pytest.approx(direct.tops_per_watt)
    assert math.isfinite(res.cost("sibia", "sym").tops_per_watt)
    assert "minilm-l6: accuracy" in result.output
