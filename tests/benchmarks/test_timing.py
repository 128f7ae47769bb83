"""The benchmarks' timing (benchmarks/_timing.py): functions timed interleaved, each keeping its median."""

from __future__ import annotations

from types import SimpleNamespace

import _timing


def test_median_times_interleaves_the_rounds_and_keeps_each_median(monkeypatch):
    now = [0.0]
    order = []
    durations = {"a": iter([9.0, 1.0, 2.0, 3.0]), "b": iter([9.0, 5.0, 4.0, 60.0])}  # warm-up first

    def work(name):
        def fn():
            order.append(name)
            now[0] += next(durations[name])

        return fn

    monkeypatch.setattr(_timing, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    medians = _timing.median_times({"a": work("a"), "b": work("b")}, 3)
    assert order == ["a", "b"] * 4  # one untimed round, then each round runs every function once
    assert medians == {"a": 2.0, "b": 5.0}


def test_median_times_without_warm_up_times_every_call(monkeypatch):
    calls = []
    monkeypatch.setattr(_timing, "time", SimpleNamespace(perf_counter=lambda: float(len(calls))))
    assert _timing.median_times({"a": lambda: calls.append(1)}, 2, warmup=False) == {"a": 1.0}
    assert len(calls) == 2
