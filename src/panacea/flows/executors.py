"""Where independent cost evaluations run: one interface for ``panacea dse`` and ``panacea sweep``.

An executor maps a top-level function over items, ``fn(shared, item)``, and yields ``(index of
the item, result)`` as each finishes (in any order: callers key results by index). ``shared``
(the workloads of a model, the sweep's options) travels to each worker once, not with every item:
a :class:`LocalExecutor`'s worker processes receive it when they start (their initializer), a
:class:`RayExecutor` puts it in Ray's object store once and every task reads it from there.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Literal

ExecutorKind = Literal["local", "ray"]
_SHARED: list = []  # a pool worker's copy of ``shared``, set once when it starts


def _one_thread() -> None:
    """A worker computes with one thread: the workers are the parallelism (two workers of two
    torch threads each on two cores ran a design space 8x slower than one worker)."""
    import torch

    torch.set_num_threads(1)


def _init_worker(shared: Any) -> None:
    _one_thread()
    _SHARED[:] = [shared]


def _call_in_worker(fn: Callable, item: Any) -> Any:
    return fn(_SHARED[0], item)


class LocalExecutor:
    """A process pool of ``jobs`` workers (spawned: no state of the parent leaks in); ``jobs = 1``
    runs every item in this process."""

    def __init__(self, jobs: int = 1):
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.jobs = jobs

    def map(self, fn: Callable[[Any, Any], Any], items: Sequence, shared: Any) -> Iterator[tuple[int, Any]]:
        if self.jobs == 1 or len(items) <= 1:
            for i, item in enumerate(items):
                yield i, fn(shared, item)
            return
        ctx = multiprocessing.get_context("spawn")
        workers = min(self.jobs, len(items))
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(shared,)) as pool:
            futures = {pool.submit(_call_in_worker, fn, item): i for i, item in enumerate(items)}
            for future in as_completed(futures):
                yield futures[future], future.result()


def _call_remote(fn: Callable, shared: Any, item: Any) -> Any:
    _one_thread()
    return fn(shared, item)  # Ray hands a top-level ObjectRef argument over as its value


class RayExecutor:
    """Items as Ray tasks: on the cluster at ``address``, or on a local Ray instance of ``jobs``
    CPUs started (and stopped) here."""

    def __init__(self, address: str | None = None, jobs: int | None = None):
        if jobs is not None and jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.address, self.jobs = address, jobs

    def map(self, fn: Callable[[Any, Any], Any], items: Sequence, shared: Any) -> Iterator[tuple[int, Any]]:
        if not items:
            return
        import ray

        started = not ray.is_initialized()
        if started:
            local = {"num_cpus": self.jobs} if self.address is None else {}
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False, **local)
        try:
            ref = ray.put(shared)
            task = ray.remote(_call_remote)
            pending = {task.remote(fn, ref, item): i for i, item in enumerate(items)}
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for r in done:
                    yield pending.pop(r), ray.get(r)
        finally:
            if started:
                ray.shutdown()


Executor = LocalExecutor | RayExecutor


def make_executor(kind: str, jobs: int = 1, address: str | None = None) -> Executor:
    """The executor the command line asks for; one error naming the bad option."""
    if kind not in ("local", "ray"):
        raise ValueError(f"executor must be local or ray, got {kind!r}")
    if address is not None and kind != "ray":
        raise ValueError("--address needs --executor ray")
    return LocalExecutor(jobs) if kind == "local" else RayExecutor(address, jobs)
