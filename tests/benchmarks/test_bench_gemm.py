"""The GEMM benchmark (benchmarks/bench_gemm.py) measures what it says: every ratio is a time over the
float32 matmul of the same shape timed in the same run, every timed back end computes the exact
product, the verdict follows from the ratios and the goals, and the header names the CPU's flags."""

from __future__ import annotations

import csv
import importlib.util
import os
import sys
from pathlib import Path

import pytest
import torch

import panacea
from panacea.core.intmm_backends import ENV_VAR
from panacea.core.intmm_choice import choose_backend, cpu_features

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_gemm.py"
TOKENS, K, M = 16, 32, 24


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_gemm", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeTimer:
    """Stands in for ``median_times``: runs each function once (what would be timed), keeps its
    result, and gives each call's functions distinct made-up seconds."""

    def __init__(self):
        self.calls: list[dict[str, object]] = []
        self.seconds: list[dict[str, float]] = []

    def __call__(self, fns, repeats, *, warmup=True):
        self.calls.append({name: fn() for name, fn in fns.items()})
        seconds = {name: 0.25 * (i + 1) + len(self.calls) for i, name in enumerate(fns)}
        self.seconds.append(dict(seconds))
        return seconds


def test_bench_shape_ratios_are_over_the_float32_matmul_of_the_same_run(bench, monkeypatch):
    timer = FakeTimer()
    monkeypatch.setattr(bench, "median_times", timer)
    r = bench.bench_shape(tokens=TOKENS, k=K, m=M, repeats=1)
    names = bench.columns(bench.exact_backends())
    assert names[0] == "int_mm" and names[-2:] == ["fast", "slice"]
    assert {"packed_float32", "packed_float64"} <= set(names)
    assert set(r) == {"act_sparsity", "weight_sparsity", "f32_s", "memory", *names}
    main_run, slice_run = timer.seconds
    assert set(main_run) == {"f32", *names} - {"slice"}  # one interleaved run: every column with its baseline
    assert set(slice_run) == {"f32", "slice"}  # the slice-level path: its own run, its own baseline
    assert r["f32_s"] == main_run["f32"]
    for name in set(names) - {"slice"}:
        assert r[name] == main_run[name] / main_run["f32"], name
    assert r["slice"] == pytest.approx(slice_run["slice"] / slice_run["f32"])
    x_q, w_q, z = bench.operands(TOKENS, K, M)
    counts = panacea.aqs_gemm(x_q, w_q, z).counts
    assert (r["act_sparsity"], r["weight_sparsity"]) == (counts.act_vector_sparsity, counts.weight_vector_sparsity)
    assert r["memory"] is None or r["memory"] >= 0  # tiny outputs may fit in pages already resident


def test_every_timed_back_end_gives_the_exact_product(bench, monkeypatch):
    timer = FakeTimer()
    monkeypatch.setattr(bench, "median_times", timer)
    monkeypatch.setattr(bench, "peak_extra_ratio", lambda *shape: None)
    forced = []
    real = panacea.aqs_gemm

    def spy(*args, **kwargs):
        forced.append(os.environ.get(ENV_VAR))
        return real(*args, **kwargs)

    before = os.environ.get(ENV_VAR)
    monkeypatch.setattr(panacea, "aqs_gemm", spy)
    bench.bench_shape(tokens=TOKENS, k=K, m=M, repeats=1)
    assert os.environ.get(ENV_VAR) == before  # the forcing is undone
    x_q, w_q, _ = bench.operands(TOKENS, K, M)
    exact = x_q.long() @ w_q.long().T
    outputs = {**timer.calls[0], "slice": timer.calls[1]["slice"]}
    assert torch.equal(outputs["f32"], exact.to(torch.float32))  # the baseline: the same product in float32
    assert torch.equal(outputs["int_mm"], (x_q.long() - 128) @ w_q.long().T)  # same-shape int8 operands
    for name in ("fast", "slice", *(f"packed_{b}" for b in bench.exact_backends())):
        assert torch.equal(outputs[name].output, exact), name
    # aqs_gemm calls: counts, then per column in order (fast, packed_<b> ..., slice)
    assert forced[2:-1] == bench.exact_backends()


def _main(bench, monkeypatch, capsys, tmp_path, rows: dict[tuple[int, int], dict]) -> tuple[str, list[dict]]:
    """Run ``main`` on made-up measurements (keyed by (K, M)) and return its output and CSV rows."""
    monkeypatch.setattr(bench, "bench_shape", lambda tokens, k, m, repeats: rows[(k, m)])
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.setattr(sys, "argv", ["bench_gemm.py", "--csv", str(tmp_path / "gemm.csv")])
    bench.main()
    with open(tmp_path / "gemm.csv") as f:
        return capsys.readouterr().out, list(csv.DictReader(f))


def _row(bench, packed: float, memory: float | None) -> dict:
    names = bench.columns(bench.exact_backends())
    return {"act_sparsity": 0.9, "weight_sparsity": 0.1, "f32_s": 0.001, **dict.fromkeys(names, 9.0)} | {
        f"packed_{choose_backend('cpu').backend}": packed,
        "memory": memory,
    }


MEMORY = "peak extra memory of the fast path <= 4.0x its int64 output"


@pytest.mark.parametrize(
    ("packed", "memory", "verdict"),
    [
        ((1.0, 1.5, 1.2, 0.8), (2.0, 4.0, None, 1.0), f"met (worst 1.50x); {MEMORY}: met (worst 4.00x)"),
        ((1.0, 1.51, 1.2, 0.8), (2.0, 4.5, 1.0, 1.0), f"NOT met (worst 1.51x); {MEMORY}: NOT met (worst 4.50x)"),
        ((1.0, 1.0, 1.0, 1.0), (None, None, None, None), f"met (worst 1.00x); {MEMORY}: n/a"),
    ],
)
def test_the_verdict_follows_from_the_chosen_back_end_and_the_goals(
    bench, monkeypatch, capsys, tmp_path, packed, memory, verdict
):
    rows = {shape: _row(bench, p, mem) for shape, p, mem in zip(bench.SHAPES, packed, memory, strict=True)}
    out, written = _main(bench, monkeypatch, capsys, tmp_path, rows)
    text = " ".join(out.split())
    assert f"goals: packed (chosen back end) <= {bench.GOAL}x the float32 matmul on every shape: {verdict}" in text
    chosen = choose_backend("cpu")
    assert f"torch {torch.__version__}, {cpu_features()}, " in text  # the flags that decide integer GEMM speed
    assert chosen.describe() in text and f"packed {chosen.backend} *" in text  # the chosen column marked
    assert [(int(r["k"]), int(r["m"])) for r in written] == bench.SHAPES
    assert {r["cpu"] for r in written} == {cpu_features()} and {r["backend"] for r in written} == {chosen.backend}


def test_table_row_prints_each_measurement(bench):
    names = bench.columns(bench.exact_backends())
    r = _row(bench, 1.234, None) | {"int_mm": 0.5}
    row = bench.table_row(768, 2304, r, names)
    assert row[:4] == ["768 x 2304", "90.0%", "10.0%", "1.00"]  # f32 in ms
    assert row[4:-1] == [f"{r[name]:.2f}" for name in names] and row[4] == "0.50"
    assert row[-1] == "n/a" and bench.table_row(768, 2304, r | {"memory": 2.5}, names)[-1] == "2.50"
