"""Timing for the scripts in ``benchmarks/``: the machine is shared and noisy, so functions are
timed interleaved (each repeat runs every function once) and each keeps its median."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_times(fns: dict[str, Callable[[], object]], repeats: int, *, warmup: bool = True) -> dict[str, float]:
    """Median seconds of each function over ``repeats`` interleaved rounds (after one untimed
    round if ``warmup``)."""
    if warmup:
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}
