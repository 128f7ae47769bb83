"""Timing and memory for the scripts in ``benchmarks/``: the machine is shared and noisy, so functions
are timed interleaved (each repeat runs every function once) and each keeps its median."""

from __future__ import annotations

import re
import resource
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


def peak_rss_gb() -> float:
    """The process's peak resident memory so far, GB: the kernel's high-water mark (VmHWM), or
    ``getrusage``'s where ``/proc`` is absent."""
    try:
        with open("/proc/self/status") as f:
            return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1)) * 1024 / 1e9
    except (OSError, AttributeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # Linux: KiB
