"""Which design runs which workloads (the paper's section IV pairing, Fig. 15's ablation, Fig. 18's
variants), each costed exactly as the design's cost model costs it alone."""

from __future__ import annotations

import pytest

import panacea.hw as hw
from panacea.flows.costing import cost_runs
from panacea.workload.build import synthetic_workload


def _layers(scheme: str, seed: int) -> list:
    return [
        synthetic_workload(64, 128, 64, act_sparsity=0.5, weight_sparsity=0.3, scheme=scheme, seed=seed + i)
        for i in range(2)
    ]


@pytest.fixture(scope="module")
def records():
    models = {name: hw.load(name, mapping="fixed") for name in ("panacea", "sibia", "simd")}
    formats = {"sym": "bitslice-sym", "dbs": "bitslice-asym"}
    captures = {
        "sym": {"main": _layers("sym", 0), "sym-on-panacea": _layers("asym", 10)},
        "dbs": {"main": _layers("asym", 20), "zero-only": _layers("asym", 30)},
    }
    return models, captures, cost_runs(models, formats, captures)


def test_each_design_runs_the_workloads_of_its_formats(records):
    _, _, recs = records
    assert [(r.accelerator, r.scheme, r.variant) for r in recs] == [
        ("panacea", "dbs", ""),
        ("panacea", "dbs", "dtp-off"),  # Fig. 15: the same design without DTP's hardware
        ("panacea", "dbs", "zero-only"),  # Fig. 18(b)
        ("panacea", "sym", "sym-on-panacea"),  # Fig. 18(a)
        ("sibia", "sym", ""),  # its own symmetric format
        ("simd", "dbs", ""),  # a dense design: the main scheme only
    ]


def test_each_run_costs_what_its_model_costs_alone(records):
    models, captures, recs = records
    for r in recs:
        if r.variant == "dtp-off":
            continue  # a design of its own (hw.without_dtp), checked by the ablation tests
        workloads = captures[r.scheme]["main" if not r.variant else r.variant]
        alone = hw.load(r.accelerator, mapping="fixed").run(workloads)
        assert (r.cycles, r.energy_pj) == (alone.cycles, alone.energy_pj)
        assert [layer.cycles for layer in r.layers] == [models[r.accelerator].run(w).cycles for w in workloads]
