"""The cost-model benchmark (benchmarks/bench_hw.py) measures what it says: GPT-2's weight GEMMs,
every design costed exactly as panacea.hw costs the same workloads, the best of the repeats, and the
printed ratio the cost models' total time over the forward pass of the same run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import panacea.hw as hw
from panacea.hw.bitserial import synthetic_aq_workload
from panacea.workload.build import synthetic_workload

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_hw.py"
TINY = dict(hidden=64, layers=2, vocab=100)  # a GPT-2-shaped model small enough for a test
TOKENS, ACT, WEIGHT = 32, 0.9, 0.5


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_hw", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_workloads_are_gpt2s_weight_gemms(bench):
    shapes = bench.gpt2_gemms(1024)
    assert len(shapes) == 4 * 12 + 1
    assert shapes[:4] == [
        ("h.0.attn.c_attn", 1024, 768, 2304),
        ("h.0.attn.c_proj", 1024, 768, 768),
        ("h.0.mlp.c_fc", 1024, 768, 3072),
        ("h.0.mlp.c_proj", 1024, 3072, 768),
    ]
    assert shapes[-1] == ("lm_head", 1024, 768, 50257)
    assert sum(k * m for _, _, k, m in shapes) == 12 * 12 * 768**2 + 768 * 50257  # GPT-2's GEMM weights


def _direct_costs(bench, mapping: str) -> dict[str, hw.Cost]:
    """Every design's cost of the benchmark's workloads, computed with panacea.hw directly."""
    shapes = bench.gpt2_gemms(TOKENS, **TINY)
    opts = dict(act_sparsity=ACT, weight_sparsity=WEIGHT)
    workloads = {
        "asym": [synthetic_workload(n, k, m, name=name, seed=i, **opts) for i, (name, n, k, m) in enumerate(shapes)],
        "sym": [
            synthetic_workload(n, k, m, name=name, seed=i, scheme="sym", **opts)
            for i, (name, n, k, m) in enumerate(shapes)
        ],
        "aq": [
            synthetic_aq_workload(4, 0.3, n=n, k=k, m=m, block=64, run_bits=4, seed=i, name=name)
            for i, (name, n, k, m) in enumerate(shapes)
        ],
    }
    scheme = {"sibia": "sym", "aq-bitserial": "aq"}
    costs = [hw.load(name, mapping=mapping).run(workloads[scheme.get(name, "asym")]) for name in hw.BUILTIN_SPECS]
    return {c.design: c for c in costs}


@pytest.mark.parametrize("mapping", ["search", "fixed"])
def test_every_design_is_costed_as_panacea_hw_costs_it(bench, mapping):
    t_forward, results = bench.measure(TOKENS, ACT, WEIGHT, 1, mapping=mapping, **TINY)
    direct = _direct_costs(bench, mapping)
    assert set(results) == set(direct) == {"Panacea", "Sibia", "SA-WS", "SA-OS", "SIMD", "AQ-BitSerial"}
    h, v = TINY["hidden"], TINY["vocab"]
    for design, (seconds, cost) in results.items():
        assert cost == direct[design], design
        assert cost.workloads == 9 and cost.macs == TINY["layers"] * (TOKENS * h * h * 12) + TOKENS * h * v
        assert seconds > 0
    assert t_forward > 0


def test_best_of_keeps_the_fastest_repeat(bench, monkeypatch):
    clock = iter([0.0, 3.0, 10.0, 11.0, 20.0, 22.0])  # repeats of 3 s, 1 s and 2 s
    monkeypatch.setattr(bench, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    calls = []
    assert bench.best_of(3, lambda: calls.append(1)) == 1.0 and len(calls) == 3


def test_the_printed_costs_and_ratio_are_the_measured_ones(bench, monkeypatch, capsys):
    _, results = bench.measure(TOKENS, ACT, WEIGHT, 1, mapping="fixed", **TINY)
    seconds = dict(zip(results, (0.1, 0.2, 0.3, 0.4, 0.5, 0.6), strict=True))
    made_up = {design: (seconds[design], cost) for design, (_, cost) in results.items()}
    monkeypatch.setattr(bench, "measure", lambda *args, **kwargs: (1.5, made_up))
    monkeypatch.setattr(sys, "argv", ["bench_hw.py", "--tokens", "1024", "--mapping", "fixed"])
    bench.main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("GPT-2-shaped model, 49 GEMMs at 1024 tokens (act sparsity 0.9, weight sparsity 0.5)")
    assert "mapping fixed" in lines[0]
    assert lines[1] == "FP32 forward pass (best of 3): 1.500 s"
    for line, (design, (s, c)) in zip(lines[2:8], made_up.items(), strict=True):
        assert line.split() == [
            "cost",
            "on",
            design,
            f"{s:.3f}",
            "s",
            f"({c.cycles:,}",
            "cycles,",
            f"{c.tops:.2f}",
            "TOPS,",
            f"{c.tops_per_watt:.2f}",
            "TOPS/W)",
        ]
    assert lines[8] == "cost models, all 6 designs: 2.100 s"
    assert lines[9] == "ratio cost / forward: 1.40 (goal <= 1)"  # 2.1 s / 1.5 s, from the unrounded times
