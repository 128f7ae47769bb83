"""Design spaces: validation, the points under constraints, the Pareto front, executors, resuming."""

from __future__ import annotations

import csv

import pytest
from conftest import REPRODUCE_TINY
from typer.testing import CliRunner

import panacea.flows.dse as dse
import panacea.hw as hw
from panacea.cli import app
from panacea.flows.dse import Space, design_metrics, load_space, pareto_front, points
from panacea.flows.executors import LocalExecutor, RayExecutor
from panacea.workload.build import synthetic_workload

FIG13 = """
base = "panacea"
objectives = ["tops", "tops_per_watt"]
[vary]
"core.dwo_per_pea" = [2, 4, 6, 8]
"core.swo_per_pea" = [4, 6, 8, 10]
[variants.dtp]
on = {}
off = { "core.dtp" = false, "core.compensators_per_pea" = 1, "core.psum_kb" = 1.0 }
[constraints]
equal_multipliers = true
"""


def _space(tmp_path, text: str) -> Space:
    path = tmp_path / "space.toml"
    path.write_text(text)
    return load_space(path)


def test_equal_multipliers_keeps_the_splits_of_twelve_operators(tmp_path):
    space = _space(tmp_path, FIG13)
    assert space.size == 32
    kept = [p for p in points(space) if p.spec is not None]
    assert {(p.changes["core.dwo_per_pea"], p.changes["core.swo_per_pea"]) for p in kept} == {
        (2, 10),
        (4, 8),
        (6, 6),
        (8, 4),
    }
    assert all(p.spec.multipliers_4b == 3072 for p in kept)
    out = next(p for p in points(space) if p.spec is None)
    assert "multipliers, not the base's 3072" in out.reason


def test_an_area_budget_drops_the_larger_designs(tmp_path):
    text = FIG13.replace("equal_multipliers = true", "max_area_mm2 = 0.85")
    kept = [p for p in points(_space(tmp_path, text)) if p.spec is not None]
    assert kept and all(sum(hw.model_for(p.spec).area_mm2().values()) <= 0.85 for p in kept)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("[2, 4, 6, 8]", '[1]\n"core.colour" = [1]'), "vary.core.colour: not a field of panacea's spec"),
        (('"core.psum_kb" = 1.0', '"core.hue" = 1.0'), "variants.dtp.off.core.hue: not a field of panacea's spec"),
        (("[2, 4, 6, 8]", "[]"), "vary: 'core.dwo_per_pea': needs at least one value"),
        (("[2, 4, 6, 8]", "[2, 2]"), "values must be distinct"),
        (
            ("[2, 4, 6, 8]", "{ start = 2, stop = 8, step = 0 }"),
            r"vary.core.dwo_per_pea.step: Input should be greater than 0",
        ),
        (("[2, 4, 6, 8]", "{ start = 8, stop = 2 }"), r"vary.core.dwo_per_pea: stop \(2\) is below start \(8\)"),
        (("[4, 6, 8, 10]", '[4, 6, 8, 10]\n"core.dtp" = [true]'), "'core.dtp' is both varied and changed by a variant"),
        (('["tops", "tops_per_watt"]', '["tops", "speed"]'), "objectives.1: Input should be"),
        (('base = "panacea"', 'base = "tpu"'), "tpu"),
        (('base = "panacea"', 'base = "panacea"\nmarks = ["sibia", "tpu"]'), "marks.1: spec 'tpu'"),
    ],
)
def test_a_bad_space_is_one_error_naming_the_field(tmp_path, edit, message):
    with pytest.raises(ValueError, match=message):
        _space(tmp_path, FIG13.replace(*edit))


def test_an_invalid_point_is_kept_with_the_reason():
    space = Space.model_validate({"base": "panacea", "vary": {"core.peas": [16, 0]}})
    bad = [p for p in points(space) if p.spec is None]
    assert len(bad) == 1 and "core.peas" in bad[0].reason


def test_pareto_front_by_hand():
    rows = [
        {"tops": 1.0, "area": 1.0},
        {"tops": 2.0, "area": 2.0},
        {"tops": 1.5, "area": 2.5},  # dominated by the second
        {"tops": 2.0, "area": 2.0},  # a tie: neither dominates the other
    ]
    assert pareto_front(rows, ["tops", "area"]) == [0, 1, 3]
    assert pareto_front(rows, ["tops"]) == [1, 3]


def test_evaluate_is_the_cost_model_on_the_workloads():
    w = [synthetic_workload(64, 128, 128, act_sparsity=0.8, weight_sparsity=0.5)]
    spec = hw.load_spec("panacea")
    row = design_metrics(spec, w)
    cost = hw.model_for(spec).run(w)
    assert row["tops"] == cost.tops and row["area"] == cost.total_area_mm2


def test_a_run_is_the_same_on_one_or_two_workers(tmp_path):
    space = _space(tmp_path, FIG13)
    w = [synthetic_workload(64, 128, 128, act_sparsity=0.8, weight_sparsity=0.5)]
    one = dse.run_space(space, w, tmp_path / "one", workloads_key="w")
    two = dse.run_space(space, w, tmp_path / "two", workloads_key="w", executor=LocalExecutor(2))
    assert one == two and sum(r.get("pareto", False) for r in one) >= 1
    assert len(list((tmp_path / "one").glob("*.json"))) == 8
    front = [r for r in one if r.get("pareto")]
    dse._write_front_specs(space, front, tmp_path / "front")
    for row in front:  # each Pareto design's spec file costs what its point did
        spec = hw.load_spec(tmp_path / "front" / f"panacea-{row['index']}.toml")
        assert design_metrics(spec, w) == {k: row[k] for k in dse.MAXIMISE}


def test_the_dse_command_writes_the_points_the_front_its_specs_and_the_plot(tiny_llama_dir, tmp_path):
    space = tmp_path / "space.toml"
    space.write_text(FIG13)
    out = tmp_path / "out"
    args = ["dse", tiny_llama_dir, "--space", str(space), "--out", str(out), *REPRODUCE_TINY]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    for name in ("points.csv", "points.parquet", "front.csv", "marks.csv", "pareto.png"):
        assert (out / name).is_file()
    specs = sorted((out / "front").glob("*.toml"))
    assert specs and all(hw.load(s).spec.multipliers_4b == 3072 for s in specs)
    bad = CliRunner().invoke(app, ["dse", tiny_llama_dir, "--space", str(tmp_path / "none.toml"), "--out", str(out)])
    assert bad.exit_code == 2 and "none.toml" in bad.output


def test_ray_gives_the_points_of_the_process_pool(tmp_path):
    space = _space(tmp_path, FIG13)
    w = [synthetic_workload(64, 128, 128, act_sparsity=0.8, weight_sparsity=0.5)]
    pool = dse.run_space(space, w, tmp_path / "pool", workloads_key="w", executor=LocalExecutor(2))
    ray = dse.run_space(space, w, tmp_path / "ray", workloads_key="w", executor=RayExecutor(jobs=2))
    assert ray == pool


def test_nsga2_visits_points_of_the_space_and_is_reproducible(tmp_path):
    space = _space(tmp_path, FIG13)
    w = [synthetic_workload(64, 128, 128, act_sparsity=0.8, weight_sparsity=0.5)]
    every = {r["index"]: r for r in dse.run_space(space, w, tmp_path / "all", workloads_key="w")}
    a = dse.run_space(space, w, tmp_path / "a", workloads_key="w", trials=12, seed=3)
    b = dse.run_space(space, w, tmp_path / "b", workloads_key="w", trials=12, seed=3)
    assert a == b and 1 <= len(a) <= 12
    for row in a:  # the same numbers as the exhaustive run, point by point
        assert {k: v for k, v in row.items() if k != "pareto"} == {
            k: v for k, v in every[row["index"]].items() if k != "pareto"
        }


class _Interrupted(Exception):
    pass


class _CountingExecutor(LocalExecutor):
    """Runs in this process; counts the points it costs, and stops after ``stop_after`` tasks."""

    def __init__(self, stop_after: int | None = None):
        super().__init__(1)
        self.costed, self.tasks, self.stop_after = 0, 0, stop_after

    def map(self, fn, items, shared):
        for i, results in super().map(fn, items, shared):
            if self.tasks == self.stop_after:
                raise _Interrupted
            self.tasks += 1
            self.costed += len(results)
            yield i, results


def test_an_interrupted_run_resumes_without_recosting_the_finished_points(tmp_path, monkeypatch):
    monkeypatch.setattr(dse, "POINTS_PER_TASK", 3)  # 8 points: tasks of 3, 3 and 2
    space = _space(tmp_path, FIG13)
    w = [synthetic_workload(64, 128, 128, act_sparsity=0.8, weight_sparsity=0.5)]
    with pytest.raises(_Interrupted):
        dse.run_space(space, w, tmp_path / "s", workloads_key="w", executor=_CountingExecutor(stop_after=1))
    assert len(list((tmp_path / "s").glob("*.json"))) == 3
    again = _CountingExecutor()
    rows = dse.run_space(space, w, tmp_path / "s", workloads_key="w", executor=again)
    assert again.costed == 8 - 3
    assert rows == dse.run_space(space, w, tmp_path / "fresh", workloads_key="w")


def test_pool_and_ray_give_the_same_front_on_a_config_built_model(tiny_llama_dir, tmp_path):
    from panacea.flows.evaluate import EvaluateConfig

    space = _space(tmp_path, FIG13)
    config = EvaluateConfig(model=tiny_llama_dir, tokens=64, calib_tokens=64, seqlen=32, batch_size=2)
    pool = dse.explore(space, config, tmp_path / "pool", executor=LocalExecutor(2))
    ray = dse.explore(space, config, tmp_path / "ray", executor=RayExecutor(jobs=2))
    assert ray == pool
    for name in ("front.csv", "marks.csv"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "pool" / name).read_bytes()
    import pyarrow.parquet as pq

    columns = dict.fromkeys(k for r in pool for k in r)
    assert pq.read_table(tmp_path / "pool" / "points.parquet").to_pylist() == [
        {k: r.get(k) for k in columns} for r in pool
    ]
    with open(tmp_path / "pool" / "marks.csv") as f:
        assert [r["design"] for r in csv.DictReader(f)] == list(hw.BUILTIN_SPECS)


def test_ranges_expand_and_a_variant_changes_its_fields_together(tmp_path):
    space = _space(tmp_path, FIG13.replace("[2, 4, 6, 8]", "{ start = 2, stop = 8, step = 2 }"))
    assert space.vary["core.dwo_per_pea"] == [2, 4, 6, 8]
    assert list(space.dimensions) == ["core.dwo_per_pea", "core.swo_per_pea", "dtp"]
    off = [p for p in points(space) if p.spec is not None and p.changes["dtp"] == "off"]
    assert len(off) == 4
    assert all((p.spec.core.dtp, p.spec.core.compensators_per_pea, p.spec.core.psum_kb) == (False, 1, 1.0) for p in off)
    assert all(point.index == dse.point_index(space, point.changes) for point in points(space))


def test_another_index_width_is_derived_from_the_captured_masks(tmp_path):
    from panacea.workload.build import with_index_bits

    space = Space.model_validate({"base": "panacea", "vary": {"core.index_bits": [3, 4]}})
    w = [synthetic_workload(64, 128, 128, act_sparsity=0.8, weight_sparsity=0.5)]
    rows = dse.run_space(space, w, tmp_path / "s", workloads_key="w")
    three = hw.with_core(hw.load_spec("panacea"), index_bits=3)
    assert {k: rows[0][k] for k in dse.MAXIMISE} == design_metrics(three, [with_index_bits(w[0], 3)])
    assert {k: rows[1][k] for k in dse.MAXIMISE} == design_metrics(hw.load_spec("panacea"), w)
    assert rows[0]["tops_per_watt"] != rows[1]["tops_per_watt"]


def test_another_vector_length_is_captured_again(tiny_llama_dir, tmp_path):
    from panacea.flows.evaluate import EvaluateConfig

    space = Space.model_validate({"base": "panacea", "vary": {"core.vector": [2, 4]}, "marks": ("panacea",)})
    config = EvaluateConfig(model=tiny_llama_dir, tokens=64, calib_tokens=64, seqlen=32, batch_size=2)
    rows = dse.explore(space, config, tmp_path / "out")
    assert [r["reason"] for r in rows] == ["", ""] and rows[0]["tops"] != rows[1]["tops"]
    with pytest.raises(ValueError, match=r"no workloads captured with core\.vector = 8"):
        dse.workloads_for(hw.with_core(hw.load_spec("panacea"), vector=8, sub_tile_rows=8, psum_kb=4.0), {4: []})
