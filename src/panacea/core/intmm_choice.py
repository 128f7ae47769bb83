"""Which exact integer GEMM back end (:mod:`panacea.core.intmm_backends`) runs on each device.

The choice is made per device at first use (:func:`choose_backend`) and cached for the process:
every back end is self-checked on this device against an int64 reference, on operands at the
extremes of the ranges it will be given (``_int_mm`` kernels without VNNI have been seen to
saturate int16 intermediates on full-range int8, huggingface/optimum-quanto#309; a float GEMM with
reduced-precision inputs, TF32 or bf16, rounds 12-bit values), then the exact ones are timed on a
representative product (a 128-token batch of 8-bit activations with zero point 128 through a
512 x 512 layer of 7-bit weights) and the fastest kept. ``PANACEA_INTMM=int8|float32|float64``
forces one (an error if it fails its self-check here). Every back end returns the same integers,
so the choice changes speed, never a result.
"""

from __future__ import annotations

import functools
import math
import os
import platform
import statistics
import time
from dataclasses import dataclass, field

import torch

from panacea.core.intmm_backends import BACKENDS, ENV_VAR, Backend, float_plan, matmul_by

_PROBE_SHAPE = (128, 512, 512)  # N, K, M of the timing probe
_PROBE_REPEATS = 3
_PROBE_GIVE_UP = 4.0  # a back end whose first call is this many times the fastest's is not timed further


def _reference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a.cpu().to(torch.int64) @ b.cpu().to(torch.int64).t()


def _self_check_cases(backend: Backend) -> list[tuple[torch.Tensor, torch.Tensor, tuple[int, int], tuple[int, int]]]:
    """Operands that a broken kernel gets wrong: every sign pattern of the ranges' extremes, K at
    and just over the back end's chunk bound, and random values over the widest ranges it is given
    (12-bit activations, 10-bit weights)."""
    gen = torch.Generator().manual_seed(0)
    cases = []
    if backend == "int8":  # full-range int8: int16-saturating kernels fail on these
        for n, k, m in ((1, 64, 1), (16, 64, 24), (64, 256, 48)):
            for va in (127, -128):
                for vb in (127, -128):
                    cases.append((torch.full((n, k), va), torch.full((m, k), vb), (-128, 127), (-128, 127)))
            a, b = torch.randint(-128, 128, (n, k), generator=gen), torch.randint(-128, 128, (m, k), generator=gen)
            cases.append((a, b, (-128, 127), (-128, 127)))
    else:
        dtype = torch.float32 if backend == "float32" else torch.float64
        for a_range, b_range in (((-128, 127), (-63, 63)), ((0, 255), (-511, 511))):
            plan = float_plan(1 << 30, a_range, b_range, dtype)
            for k in (plan.chunk, plan.chunk + 1) if plan.chunk <= 4096 else (4096,):
                for va in a_range:
                    for vb in b_range:
                        cases.append((torch.full((3, k), va), torch.full((2, k), vb), a_range, b_range))
    for a_range, b_range in (((0, 4095), (-511, 511)), ((0, 255), (-63, 63))):
        a = torch.randint(a_range[0], a_range[1] + 1, (33, 300), generator=gen)
        b = torch.randint(b_range[0], b_range[1] + 1, (17, 300), generator=gen)
        cases.append((a, b, a_range, b_range))
    return cases


def is_exact(backend: Backend, device: str = "cpu") -> bool:
    """Whether ``backend`` computes exact products on this machine's ``device`` (``cpu`` or
    ``cuda``): :func:`_self_check_cases` against an int64 reference. A float32 back end under a
    reduced-precision matmul setting (``torch.set_float32_matmul_precision``) is not."""
    if backend == "float32" and torch.get_float32_matmul_precision() != "highest":
        return False
    return _passes_self_check(backend, device)


@functools.cache
def _passes_self_check(backend: Backend, device: str) -> bool:
    for a, b, a_range, b_range in _self_check_cases(backend):
        try:
            got = matmul_by(backend, a.to(device), b.to(device), a_range, b_range)
        except RuntimeError:
            return False
        if not torch.equal(got.cpu().to(torch.int64), _reference(a, b)):
            return False
    return True


def _probe_seconds(backend: Backend, device: str, give_up: float) -> float:
    """Median seconds of ``backend`` on the probe product (module docs); ``inf`` if its first call
    takes longer than ``give_up`` seconds (a slow back end is not timed further)."""
    n, k, m = _PROBE_SHAPE
    gen = torch.Generator().manual_seed(1)
    a = torch.randint(0, 256, (n, k), generator=gen, dtype=torch.uint8).to(device)
    b = torch.randint(-63, 64, (m, k), generator=gen, dtype=torch.int8).to(device)
    rowsum = b.sum(1, dtype=torch.int64)

    def once() -> float:
        start = time.perf_counter()
        matmul_by(backend, a, b, (0, 255), (-63, 63), rowsum, 128)  # as a layer with zero point 128
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    once()  # kernels load, caches warm
    first = once()
    if first > give_up:
        return math.inf
    return statistics.median([first] + [once() for _ in range(_PROBE_REPEATS - 1)])


@dataclass(frozen=True)
class BackendChoice:
    """The back end of one device (``cpu`` or ``cuda``) and why: ``forced`` by :data:`ENV_VAR`, else
    the fastest of the exact ones; ``exact``: each back end's self-check; ``probe_ms``: each exact
    back end's median milliseconds on the probe product (``inf``: abandoned as too slow)."""

    device: str
    backend: Backend
    forced: bool
    exact: dict[str, bool] = field(default_factory=dict)
    probe_ms: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for a run's header."""
        how = (
            f"forced by {ENV_VAR}"
            if self.forced
            else "fastest exact on the probe: "
            + ", ".join(
                f"{name} {ms:.1f} ms" if math.isfinite(ms) else f"{name} too slow" for name, ms in self.probe_ms.items()
            )
        )
        broken = [name for name, ok in self.exact.items() if not ok]
        if broken:
            how += f"; not exact here: {', '.join(broken)}"
        return f"integer GEMMs on {self.device}: {self.backend} ({how})"

    def as_dict(self) -> dict:
        ms = {name: (round(v, 3) if math.isfinite(v) else None) for name, v in self.probe_ms.items()}
        return {"backend": self.backend, "forced": self.forced, "exact": dict(self.exact), "probe_ms": ms}


def forced_backend() -> Backend | None:
    """The back end :data:`ENV_VAR` forces, or None; anything else set there is one clear error."""
    value = os.environ.get(ENV_VAR, "").strip()
    if not value:
        return None
    if value not in BACKENDS:
        raise ValueError(f"{ENV_VAR} must be one of {list(BACKENDS)} (or unset: the fastest exact), got {value!r}")
    return value  # type: ignore[return-value]


def _choose(device: str, forced: Backend | None) -> BackendChoice:
    if forced is not None:
        if not is_exact(forced, device):
            raise ValueError(f"{ENV_VAR}={forced}: that back end is not exact on this {device} (its self-check failed)")
        return BackendChoice(device, forced, True, {forced: True})
    exact = {name: is_exact(name, device) for name in BACKENDS}
    probe: dict[str, float] = {}
    for name in ("float32", "float64", "int8"):  # a fast one first, so a slow int8 kernel is cut short
        if exact[name]:
            best = min(probe.values(), default=math.inf)
            probe[name] = _probe_seconds(name, device, _PROBE_GIVE_UP * best / 1e3) * 1e3
    if not probe:
        raise RuntimeError(f"no exact integer GEMM back end on this {device}: every self-check failed")
    backend = min(probe, key=probe.__getitem__)
    return BackendChoice(device, backend, False, exact, probe)


_CHOICES: dict[tuple[str, Backend | None], BackendChoice] = {}


def choose_backend(device: str | torch.device = "cpu") -> BackendChoice:
    """The back end of ``device`` (module docs): chosen at its first use, then kept for the process."""
    key = (torch.device(device).type, forced_backend())
    choice = _CHOICES.get(key)
    if choice is None:
        choice = _CHOICES[key] = _choose(*key)
    return choice


def cpu_features() -> str:
    """The CPU and the instruction sets that decide integer GEMM speed, for benchmark headers."""
    flags = [
        name
        for name, probe in (
            ("avx2", "_is_avx2_supported"),
            ("avx512", "_is_avx512_supported"),
            ("avx512_vnni", "_is_vnni_supported"),
            ("amx", "_is_amx_tile_supported"),
        )
        if getattr(torch.cpu, probe, lambda: False)()
    ]
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), name)
    except OSError:
        pass
    return f"{name} ({', '.join(flags) or 'none of avx2, avx512, avx512_vnni, amx'})"
