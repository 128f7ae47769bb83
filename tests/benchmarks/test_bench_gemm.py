"""The GEMM benchmark still runs (on a tiny shape): a broken benchmark would go unnoticed otherwise."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_gemm.py"


def test_bench_shape_produces_a_row():
    spec = importlib.util.spec_from_file_location("bench_gemm", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    r = bench.bench_shape(tokens=16, k=32, m=24, repeats=1)
    names = bench.columns(bench.exact_backends())
    assert names[0] == "int_mm" and "packed_float32" in names and "packed_float64" in names
    # Numbers, not their printed form: a few-microsecond baseline prints as "0.00" ms.
    assert r["f32_s"] > 0 and all(r[name] > 0 for name in names)
    assert 0 <= r["act_sparsity"] <= 1 and 0 <= r["weight_sparsity"] <= 1
    assert r["memory"] is None or r["memory"] >= 0  # tiny outputs may fit in pages already resident
    row = bench.table_row(32, 24, r, names)
    assert row[0] == "32 x 24" and len(row) == 5 + len(names)
