"""``panacea evaluate`` stage by stage, each as a ratio to the FP32 scoring of the same run.

For each model, runs ``panacea evaluate MODEL --tokens 512 --calib-tokens 512`` (the default
schemes and designs) in a fresh process, ``--repeats`` times, interleaved (model A, model B, A, B,
...; with several back ends, each in turn), and prints per stage the median seconds and the median
of its ratio to the FP32 scoring of the same run, from the run's ``results.json`` ``seconds``:

- ``fp32``: scoring the float model (the baseline);
- ``calibration``: every scheme's calibration (one observing pass, the fits);
- ``run_<scheme>``: scoring the quantized model with every GEMM on integers, under the capture
  of its workloads (and the Fig. 18 variants);
- ``cost_models``: costing every workload on every design;
- ``total``: the whole evaluate (model loading and caching included), and ``process``: the whole
  command as a user waits for it (Python start-up and imports included).

``--backends``: the integer GEMM back ends to run (``auto``: the one ``panacea`` chooses here;
``int8``, ``float32``, ``float64``: forced with ``PANACEA_INTMM``). On a CPU with AVX-512 VNNI or
AMX, ``float32`` shows what a CPU without them (AVX2: most AMD and laptop CPUs) gets. The CPU's
instruction sets are printed with the figures: never mix figures of different hosts.

Goals (ratios to the FP32 scoring): each scheme's run <= 2x, calibration <= 2x, costing <= 1x,
the whole evaluate <= 15x.

Usage: python benchmarks/bench_evaluate.py [--models minilm-l6,smollm2-135m] [--repeats 3]
       [--backends auto,float32] [--tokens 512] [--calib-tokens 512] [--csv FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

import panacea
from panacea.core.files import write_csv
from panacea.core.intmm_backends import BACKENDS, ENV_VAR
from panacea.core.intmm_choice import cpu_features

GOALS = {"calibration": 2.0, "run_": 2.0, "cost_models": 1.0, "total": 15.0}


def run_once(model: str, backend: str, extra: list[str]) -> dict[str, float]:
    """One ``panacea evaluate`` in a fresh process: its ``results.json`` seconds, ``process`` (the
    command's wall time) and ``backend`` (the integer back end it ran on the CPU)."""
    env = dict(os.environ)
    env.pop(ENV_VAR, None)
    if backend != "auto":
        env[ENV_VAR] = backend
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-c", "from panacea.cli import run; run()", "evaluate", model, "--out", out, *extra]
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
        results = json.loads((Path(out) / "results.json").read_text())
    return {**results["seconds"], "process": wall, "backend": results["intmm"]["cpu"]["backend"]}


def summarize(runs: list[dict[str, float]]) -> list[dict]:
    """Per stage: the median seconds and the median ratio to the same run's FP32 scoring."""
    stages = [k for k in runs[0] if k != "backend"]
    return [
        {
            "stage": stage,
            "seconds": statistics.median(r[stage] for r in runs),
            "ratio": statistics.median(r[stage] / r["fp32"] for r in runs),
        }
        for stage in stages
    ]


def goal_of(stage: str) -> float | None:
    return next((g for prefix, g in GOALS.items() if stage.startswith(prefix)), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="minilm-l6,smollm2-135m")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="auto,float32")
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--calib-tokens", type=int, default=512)
    parser.add_argument("--csv", help="also write the medians to this CSV file")
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m]
    backends = [b for b in args.backends.split(",") if b]
    for b in backends:
        if b != "auto" and b not in BACKENDS:
            parser.error(f"--backends: each must be auto or one of {list(BACKENDS)}, got {b!r}")
    extra = ["--tokens", str(args.tokens), "--calib-tokens", str(args.calib_tokens)]

    console = Console()
    console.print(
        f"panacea {panacea.__version__}, torch {torch.__version__}, {cpu_features()}, {torch.get_num_threads()} "
        f"threads; panacea evaluate MODEL {' '.join(extra)}, median of {args.repeats} interleaved runs"
    )
    runs: dict[tuple[str, str], list[dict]] = {(m, b): [] for m in models for b in backends}
    for _ in range(args.repeats):
        for model in models:
            for backend in backends:
                runs[(model, backend)].append(run_once(model, backend, extra))
    rows = []
    for (model, backend), done in runs.items():
        chosen = done[0]["backend"]
        table = Table(title=f"{model}, integer GEMMs: {chosen}" + (" (chosen)" if backend == "auto" else " (forced)"))
        for col in ("stage", "seconds", "x FP32 scoring", "goal"):
            table.add_column(col, justify="left" if col == "stage" else "right")
        for s in summarize(done):
            goal = goal_of(s["stage"])
            mark = "" if goal is None else (" ok" if s["ratio"] <= goal else " over")
            table.add_row(
                s["stage"], f"{s['seconds']:.1f}", f"{s['ratio']:.2f}", "" if goal is None else f"{goal:g}{mark}"
            )
            rows.append({"cpu": cpu_features(), "model": model, "backend": chosen, "forced": backend != "auto", **s})
        console.print(table)
    if args.csv:
        write_csv(args.csv, rows)


if __name__ == "__main__":
    main()
