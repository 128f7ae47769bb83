"""The cost-model benchmark still runs (on a tiny GPT-2-shaped model)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_hw.py"


def test_bench_costs_every_design():
    spec = importlib.util.spec_from_file_location("bench_hw", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert len(bench.gpt2_gemms(1024)) == 49
    t_forward, results = bench.measure(32, 0.9, 0.5, 1, hidden=64, layers=2, vocab=100)
    assert t_forward > 0
    assert set(results) == {"Panacea", "Sibia", "SA-WS", "SA-OS", "SIMD", "AQ-BitSerial"}
    for seconds, cost in results.values():
        assert seconds > 0 and cost.workloads == 9 and cost.macs == 2 * (32 * 64 * 64 * 12) + 32 * 64 * 100
