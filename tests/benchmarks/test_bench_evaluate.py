"""The evaluate benchmark still runs (one run of a tiny config-built Llama, float32 forced)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tiny_models import save_tiny_llama

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_evaluate.py"


def test_bench_evaluate_times_every_stage(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_evaluate", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    model = save_tiny_llama(tmp_path / "tiny")
    extra = ["--tokens", "64", "--calib-tokens", "64", "--seqlen", "32", "--batch-size", "2"]
    run = bench.run_once(model, "float32", extra)
    assert run["backend"] == "float32" and run["process"] > run["total"] > run["fp32"] > 0
    rows = bench.summarize([run, run])
    stages = [r["stage"] for r in rows]
    assert stages[:2] == ["fp32", "calibration"] and {"run_dbs", "cost_models", "total", "process"} <= set(stages)
    assert rows[0]["ratio"] == 1.0 and all(r["seconds"] > 0 and r["ratio"] > 0 for r in rows)
    assert bench.goal_of("run_aq") == 2.0 and bench.goal_of("cost_models") == 1.0 and bench.goal_of("fp32") is None
