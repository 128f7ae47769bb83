"""Design-space exploration throughput: design points per second on the SmolLM2-135M
workloads, against one FP32 forward pass of that model over the same tokens, in the same run.

Workloads: SmolLM2-135M captured under the Panacea design's scheme (``panacea.schemes.SCHEME_OF_KIND``) on the
first ``--tokens`` tokens of the offline Wikipedia text, as ``panacea dse`` captures them (not
timed; cached in ``--cache``). Points: the first ``--points`` valid points of ``--space`` (default
the Fig. 13 space: DWO/SWO per PEA at equal multipliers, DTP on and off).

Timed, interleaved ``--repeats`` times (median of each, the machine is shared and noisy):

1. the baseline: one FP32 forward pass of the model over the same tokens;
2. ``run_space`` on the smallest sub-space (fewer values per varied field) holding those points,
   into a fresh temporary store, through ``LocalExecutor(jobs)`` and ``RayExecutor(jobs=jobs)`` (a
   local Ray instance started and stopped per run), ``jobs`` = 1 and 2 (``LocalExecutor(1)`` runs
   in this process: its time / points is the cost of one point): wall time including the
   executor's start-up. Overhead = wall time minus the ideal (points x that cost / workers):
   start-up, the workloads' transfer, idle or oversubscribed workers.

Prints points/s per executor and the goal "100 design points cost less than one FP32 forward
pass": seconds per point x 100 / seconds per forward (goal < 1). ``--profile``: where one point's
time goes instead (cProfile, top entries under ``panacea/`` by cumulative time).

Usage: python benchmarks/bench_dse.py [--tokens 256] [--points 4] [--repeats 3] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import pstats
import tempfile
from pathlib import Path

import torch
from _timing import median_times

from panacea.flows import dse
from panacea.flows.cache import Cache
from panacea.flows.evaluate import EvaluateConfig
from panacea.flows.executors import LocalExecutor, RayExecutor
from panacea.flows.pipeline import run_schemes
from panacea.models.loaders import load_model
from panacea.schemes import SCHEME_OF_KIND
from panacea.tasks.data import token_windows, tokenize, wikipedia_text

FIG13 = Path(__file__).resolve().parent.parent / "examples" / "dse-fig13.toml"


def capture(args, cache: Path) -> tuple[list, list[torch.Tensor], object]:
    """The model's workloads under the Panacea design's scheme, its token batches and the model."""
    lm = load_model(args.model)
    scheme = SCHEME_OF_KIND["panacea"]
    seqlen = min(args.seqlen, args.tokens)
    config = EvaluateConfig(
        model=args.model, schemes=(scheme,), tokens=args.tokens, calib_tokens=args.tokens, seqlen=seqlen
    )
    runs = run_schemes(config.model_run(), Cache(cache, resume=True), lm=lm)
    windows = token_windows(tokenize(lm.tokenizer, wikipedia_text(), args.tokens), seqlen, args.tokens // seqlen)
    return runs.captures[scheme]["main"], list(windows.split(config.batch_size)), lm.model


def subspace(space: dse.Space, n: int) -> dse.Space:
    """The smallest sub-space (fewer values per varied field) holding the first ``n`` valid points."""
    first = list(itertools.islice((p for p in dse.points(space) if p.spec is not None), n))
    used = {k: {repr(p.changes[k]) for p in first} for k in space.vary}
    return space.model_copy(update={"vary": {k: [v for v in vs if repr(v) in used[k]] for k, vs in space.vary.items()}})


def profile_point(spec, workloads: list, top: int = 15) -> str:
    profiler = cProfile.Profile()
    profiler.runcall(dse.design_metrics, spec, workloads)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(r"panacea/", top)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--seqlen", type=int, default=512)
    parser.add_argument("--space", type=Path, default=FIG13)
    parser.add_argument("--points", type=int, default=4)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", type=Path, help="capture cache (default: a temporary directory)")
    parser.add_argument("--no-ray", action="store_true", help="only the process pool")
    parser.add_argument("--profile", action="store_true", help="profile one point instead of timing")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_dse-") as tmp:
        workloads, batches, model = capture(args, args.cache or Path(tmp) / "cache")
    space = subspace(dse.load_space(args.space), args.points)
    specs = [p.spec for p in dse.points(space) if p.spec is not None]
    print(
        f"{args.model}: {len(workloads)} workloads ({SCHEME_OF_KIND['panacea']}) at {args.tokens} tokens; "
        f"{len(specs)} points of {args.space.name} ({space.size} combinations, the others out of its constraints); "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    dse.design_metrics(specs[0], workloads)  # warm-up: imports and this process's caches
    if args.profile:
        print(profile_point(specs[0], workloads))
        return

    def forward() -> None:
        with torch.inference_mode():
            for b in batches:
                model(b)

    def run(executor) -> None:
        with tempfile.TemporaryDirectory(prefix="bench_dse-store-") as store:
            rows = dse.run_space(space, workloads, Path(store), workloads_key="bench", executor=executor)
        assert sum(not r["reason"] for r in rows) == len(specs)

    forward()  # warm-up
    jobs = sorted({1, *args.jobs})  # LocalExecutor(1): in this process, the cost of a point
    executors = {f"process pool, {j} worker{'s' * (j > 1)}": LocalExecutor(j) for j in jobs}
    if not args.no_ray:
        executors |= {f"Ray (local), {j} worker{'s' * (j > 1)}": RayExecutor(jobs=j) for j in jobs}
    fns = {"forward": forward} | {name: lambda ex=ex: run(ex) for name, ex in executors.items()}
    t = median_times(fns, args.repeats, warmup=False)  # warmed above; executors start cold by design

    n = len(specs)
    per_point = t["process pool, 1 worker"] / n
    print(f"FP32 forward pass over {args.tokens} tokens (median of {args.repeats}): {t['forward']:.3f} s")
    print(f"one point in this process (process pool, 1 worker): {per_point:.3f} s")
    for name, ex in executors.items():
        wall = t[name]
        overhead = wall - n * per_point / min(ex.jobs, n)
        print(
            f"  {name:26s} {n / wall:6.3f} points/s  ({wall:6.2f} s for {n} points, overhead {overhead:5.2f} s; "
            f"100 points / forward = {wall / n * 100 / t['forward']:.0f})"
        )
    ratio = per_point * 100 / t["forward"]
    print(
        f"goal: 100 design points cost less than one FP32 forward pass: {per_point:.3f} s x 100 / "
        f"{t['forward']:.3f} s = {ratio:.3g} -> {'holds' if ratio < 1 else 'does not hold'} (points in this process)"
    )


if __name__ == "__main__":
    main()
