"""The assumptions the sensitivity table varies: the shipped file, its validation, equal resources,
and the re-derived index width against a new capture on a real (tiny) model."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest
import torch

import panacea.hw as hw
from panacea.flows.cache import Cache
from panacea.flows.evaluate import EvaluateConfig
from panacea.flows.pipeline import run_schemes
from panacea.flows.reproduce.sensitivity import DESIGNS, comparison, load_assumptions, shipped_assumptions


def test_every_hardware_value_keeps_the_papers_equal_resources():
    base = {d: hw.load_spec(d) for d in DESIGNS}
    for a in shipped_assumptions():
        for v in a.values:
            for design in DESIGNS:
                spec = v.spec(design)
                assert spec.multipliers_4b == 3072, (a.name, v.label, design)
                assert spec.memory.sram_kb == base[design].memory.sram_kb == 192
            # a value that changes the captured format changes it in the designs alike
            for key, value in {**v.calibration, **v.workloads}.items():
                if key in ("vector", "index_bits"):
                    assert all(getattr(v.spec(d).core, key) == value for d in ("panacea", "sibia")), (a.name, key)


def test_every_assumption_has_a_base_distinct_from_its_values():
    for a in shipped_assumptions():
        labels = [v.label for v in a.values]
        assert a.base not in labels and len(set(labels)) == len(labels), a.name


def _shipped() -> dict:
    return tomllib.loads(resources.files("panacea.flows.reproduce").joinpath("sensitivity.toml").read_text())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda v: v.update(calibration={"dbs_goal": 0.5}), "calibration.dbs_goal: not a calibration field"),
        (lambda v: v.update(calibration={"w_bits": 5}), "calibration.w_bits: w_bits must be one of"),
        (lambda v: v.update(workloads={"vector": 8}), "workloads: 'vector' cannot be re-derived"),
        (lambda v: v.update(core={"tpu": {"peas": 1}}), "core: 'tpu' is none of the compared designs"),
        (lambda v: v.update(core={"panacea": {"peas": 0}}), "core: spec Panacea with .*core.peas.*: core.peas"),
        (lambda v: v.update(colour="red"), "colour"),
    ],
)
def test_a_bad_assumptions_file_is_one_error_naming_the_field(edit, message):
    import tomli_w

    doc = _shipped()
    edit(doc["assumptions"][0]["values"][0])
    with pytest.raises(ValueError, match=f"^sensitivity.toml: assumptions.0.values.0.{message}"):
        load_assumptions(tomli_w.dumps(doc))


def test_another_index_width_equals_a_new_capture_on_a_real_model(tiny_llama_dir, tmp_path):
    """Calibration does not depend on the RLE index width, so the sensitivity re-derives it from the
    captured masks; a run calibrated and captured with the other width gives the same workloads."""
    variation = next(v for a in shipped_assumptions() for v in a.values if v.workloads)
    opts = dict(model=tiny_llama_dir, schemes=("sym", "dbs"), profile="paper", tokens=64, calib_tokens=64, seqlen=32)
    cache = Cache(tmp_path / "cache", resume=False)
    base = run_schemes(EvaluateConfig(**opts, batch_size=2).model_run(), cache)
    again = run_schemes(EvaluateConfig(**opts, batch_size=2, assumptions=dict(variation.workloads)).model_run(), cache)
    for scheme in ("sym", "dbs"):
        derived = variation.derive(base.captures[scheme]["main"])
        for w, a in zip(derived, again.captures[scheme]["main"], strict=True):
            assert w.counts == a.counts and w.index_bits == a.index_bits
            assert torch.equal(w.act_stored, a.act_stored) and torch.equal(w.weight_stored, a.weight_stored)
    assert comparison(again.captures, variation) == comparison(base.captures, variation)


def test_only_assumptions_varied_around_the_runs_mapping_explain_a_claim():
    from panacea.flows.reproduce import SensitivityRow, _explanation
    from panacea.results.paper import paper

    claim = next(c for c in paper().claims if c.id == "fig16-ee-simd-gpt2")  # EE over SIMD, 3.81x

    def row(assumption: str, value: str, ours: float, mapping: str) -> SensitivityRow:
        return SensitivityRow(
            assumption=assumption,
            value=value,
            base=False,
            metric="EE gain over SIMD",
            model="m",
            ours=ours,
            change=0.0,
            mapping=mapping,
        )

    # the tile assumption runs the fixed mapping: its 3.5x carries the mapping's change too
    rows = [row("mapping", "fixed", 3.4, "search"), row("activation tile tokens", "32", 3.5, "fixed")]
    assert _explanation(claim, "m", 2.5, rows, "search") == "mapping = fixed: 3.40"
    assert _explanation(claim, "m", 2.5, rows[1:], "search") is None  # no point around the run's mapping
    assert _explanation(claim, "m", 2.5, rows[1:], "fixed") == "activation tile tokens = 32: 3.50"


@pytest.mark.parametrize("mapping", ["search", "fixed"])
def test_the_mapping_assumption_is_based_on_the_runs_mapping(tiny_llama_dir, tmp_path, mapping):
    from panacea.flows.reproduce import COMPARED_SCHEMES, sensitivity_rows

    opts = dict(model=tiny_llama_dir, schemes=COMPARED_SCHEMES, profile="paper", tokens=64, calib_tokens=64, seqlen=32)
    base = run_schemes(EvaluateConfig(**opts, batch_size=2).model_run(), Cache(tmp_path / "cache", resume=False))
    rows = [r for r in sensitivity_rows("tiny", base, None, mapping=mapping) if r.assumption == "mapping"]
    other = {"search": "fixed", "fixed": "search"}[mapping]
    assert {(r.value, r.base, r.mapping) for r in rows} == {(mapping, True, mapping), (other, False, mapping)}
