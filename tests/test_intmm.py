"""Exact integer matmul: every back end against an int64 reference (digit splits, K chunks at and
over their bounds), the float plans, the self-checks and the choice of a back end."""

from __future__ import annotations

import contextlib
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from panacea.core import intmm
from panacea.core.intmm import (
    BACKENDS,
    ENV_VAR,
    choose_backend,
    exact_matmul,
    float_plan,
    grouped_matmul,
    int_matmul,
    is_exact,
)


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    """Each back end in turn, forced as a user forces it."""
    monkeypatch.setenv(ENV_VAR, request.param)
    return request.param


@st.composite
def operands(draw):
    n, k, m = (draw(st.integers(1, 12)) for _ in range(3))
    ranges = []
    for _ in range(2):
        lo = draw(st.integers(-(2**16), 2**16))
        hi = draw(st.integers(lo, lo + 2**17))
        ranges.append((lo, hi))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))
    a = torch.randint(ranges[0][0], ranges[0][1] + 1, (n, k), generator=gen)
    b = torch.randint(ranges[1][0], ranges[1][1] + 1, (m, k), generator=gen)
    extremes = draw(st.booleans())  # pin the corners of the ranges
    if extremes:
        a = torch.where(a % 2 == 0, ranges[0][0], ranges[0][1])
        b = torch.where(b % 2 == 0, ranges[1][0], ranges[1][1])
    return a, b, ranges[0], ranges[1]


# The operands of the paper's formats: unsigned 8/12-bit activations (asymmetric, with a zero
# point), narrow-range signed 7/10-bit activations (Sibia's symmetric ones), 4/7/10-bit weights.
ACTIVATIONS = {
    "u8": ((0, 255), torch.uint8),
    "u12": ((0, 4095), torch.int16),
    "s7": ((-63, 63), torch.int8),
    "s10": ((-511, 511), torch.int16),
}
WEIGHTS = {4: ((-7, 7), torch.int8), 7: ((-63, 63), torch.int8), 10: ((-511, 511), torch.int16)}


@st.composite
def format_operands(draw):
    """Operands in the paper's formats, in their storage dtypes; values uniform, clustered around
    a zero point, or pinned at the extremes."""
    x_name = draw(st.sampled_from(sorted(ACTIVATIONS)))
    (x_lo, x_hi), x_dtype = ACTIVATIONS[x_name]
    (w_lo, w_hi), w_dtype = WEIGHTS[draw(st.sampled_from(sorted(WEIGHTS)))]
    n, k, m = draw(st.integers(1, 40)), draw(st.integers(1, 300)), draw(st.integers(1, 40))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))
    mode = draw(st.sampled_from(["uniform", "clustered", "extremes"]))
    a = torch.randint(x_lo, x_hi + 1, (n, k), generator=gen)
    b = torch.randint(w_lo, w_hi + 1, (m, k), generator=gen)
    if mode == "clustered":
        zero_point = draw(st.integers(x_lo, x_hi))
        a = (zero_point + torch.randn(n, k, generator=gen) * (x_hi - x_lo) / 16).round().long().clamp(x_lo, x_hi)
    elif mode == "extremes":
        a = torch.where(a % 2 == 0, x_lo, x_hi)
        b = torch.where(b % 2 == 0, w_lo, w_hi)
    return a.to(x_dtype), b.to(w_dtype), (x_lo, x_hi), (w_lo, w_hi)


def _reference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a.to(torch.int64) @ b.to(torch.int64).T


@contextlib.contextmanager
def forced(backend: str):
    """``backend`` forced for one hypothesis example (function-scoped fixtures span them all)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(ENV_VAR, backend)
        yield


@pytest.mark.parametrize("name", BACKENDS)
@given(ops=operands())
def test_every_back_end_is_exact_on_any_ranges(name, ops):
    a, b, ar, br = ops
    with forced(name):
        assert torch.equal(int_matmul(a, b, a_range=ar, b_range=br), _reference(a, b))


@pytest.mark.parametrize("name", BACKENDS)
@given(ops=format_operands())
def test_every_back_end_is_exact_on_the_papers_formats(name, ops):
    a, b, ar, br = ops
    rowsum = b.to(torch.int64).sum(1)  # a caller's row sums give the same result
    with forced(name):
        assert torch.equal(int_matmul(a, b, a_range=ar, b_range=br), _reference(a, b))
        assert torch.equal(int_matmul(a, b, a_range=ar, b_range=br, b_rowsum=rowsum), _reference(a, b))


@pytest.mark.parametrize("name", BACKENDS)
@given(ops=format_operands(), data=st.data())
def test_every_back_end_is_exact_with_an_offset(name, ops, data):
    """``(a - offset) @ b.T`` with the offset a zero point of the activations' range, its edges
    included; the result's dtype holds every value exactly."""
    a, b, ar, br = ops
    offset = data.draw(st.sampled_from([ar[0], ar[1], (ar[0] + ar[1] + 1) // 2]) | st.integers(*ar))
    rowsum = data.draw(st.sampled_from([None, b.to(torch.int64).sum(1)]))
    with forced(name):
        got = exact_matmul(a, b, a_range=ar, b_range=br, offset=offset, b_rowsum=rowsum)
    assert got.dtype in (torch.int32, torch.int64, torch.float32, torch.float64)
    assert torch.equal(got.to(torch.int64), _reference(a.to(torch.int64) - offset, b))


@pytest.mark.parametrize("name", BACKENDS)
@given(ops=format_operands(), groups=st.integers(2, 4), data=st.data())
def test_every_back_end_is_exact_on_grouped_gemms(name, ops, groups, data):
    """``groups`` GEMMs stacked along K, with and without an offset: group ``g`` pairs ``a``'s
    columns rolled by ``g`` with ``b``'s rolled by ``2g`` (distinct products per group)."""
    a, b, ar, br = ops
    k = a.shape[1]
    a_groups = [a.roll(g, 1) for g in range(groups)]
    b_groups = [b.roll(2 * g, 1) for g in range(groups)]
    offset = data.draw(st.sampled_from([0, ar[0], ar[1]]))
    want = torch.cat([_reference(x.to(torch.int64) - offset, y) for x, y in zip(a_groups, b_groups, strict=True)], 1)
    a, b = torch.cat(a_groups, 1), torch.cat(b_groups, 1)
    assert a.shape[1] == groups * k
    with forced(name):
        got = exact_matmul(a, b, a_range=ar, b_range=br, offset=offset, groups=groups)
        assert torch.equal(got.to(torch.int64), want)
        if offset == 0:
            assert torch.equal(grouped_matmul(a, b, groups=groups, a_range=ar, b_range=br), want)


@pytest.mark.parametrize(
    ("dtype", "lo", "hi"), [(torch.uint8, 0, 255), (torch.int8, -128, 127), (torch.int16, 0, 4095)]
)
def test_native_dtypes_at_their_extremes(backend, dtype, lo, hi):
    a = torch.tensor([[lo, hi, hi], [hi, lo, hi]], dtype=dtype)
    b = torch.tensor([[-63, 63, -63], [127, -128, 5]], dtype=torch.int8)
    assert torch.equal(int_matmul(a, b, a_range=(lo, hi), b_range=(-128, 127)), _reference(a, b))


# --------------------------------------------------------------------------- chunk bounds


def _worst_case(k: int, a_value: int, b_value: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    a = torch.full((2, k), a_value, dtype=torch.int16)
    b = torch.full((3, k), b_value, dtype=torch.int16)
    return a, b, torch.full((2, 3), a_value * b_value * k, dtype=torch.int64)


# (a range, b range, the worst values: the largest |a - centre| and |b|)
FLOAT32_CASES = [
    ((0, 255), (-63, 63), [(0, -63), (0, 63), (255, 63)]),  # 8-bit activations, 7-bit weights: chunk 2,080
    ((0, 4095), (-63, 63), [(0, 63), (4095, -63)]),  # 12-bit activations: chunk 130
    ((0, 255), (-511, 511), [(0, -511), (255, 511)]),  # 10-bit weights: chunk 256
    ((-63, 63), (-63, 63), [(-63, -63), (63, -63)]),  # Sibia's 7-bit activations: chunk 4,227
]


@pytest.mark.parametrize(("a_range", "b_range", "values"), FLOAT32_CASES)
def test_float32_chunks_are_exact_at_and_over_their_bound(monkeypatch, a_range, b_range, values):
    monkeypatch.setenv(ENV_VAR, "float32")
    plan = float_plan(1 << 20, a_range, b_range, torch.float32)
    assert plan.dtype == torch.float32
    centred = (a_range[0] - plan.centre, a_range[1] - plan.centre)
    assert plan.chunk * intmm._bound(centred, b_range) <= 2**24 < (plan.chunk + 1) * intmm._bound(centred, b_range)
    for k in (plan.chunk, plan.chunk + 1):
        for va, vb in values:
            a, b, want = _worst_case(k, va, vb)
            assert torch.equal(int_matmul(a, b, a_range=a_range, b_range=b_range), want), (k, va, vb)


def test_the_float32_chunk_bounds_of_the_papers_formats():
    assert float_plan(1024, (0, 255), (-63, 63), torch.float32) == intmm.FloatPlan(torch.float32, 0, 1044)
    assert float_plan(1536, (0, 255), (-63, 63), torch.float32) == intmm.FloatPlan(torch.float32, 128, 2080)
    assert float_plan(4096, (0, 255), (-63, 63), torch.float32).chunks(4096) == 2  # centred: 2 chunks, not 4
    assert float_plan(1536, (0, 4095), (-63, 63), torch.float32) == intmm.FloatPlan(torch.float32, 2048, 130)
    # 12-bit activations with 10-bit weights: chunks of 16 would be slower than one float64 GEMM
    assert float_plan(1536, (0, 4095), (-511, 511), torch.float32).dtype == torch.float64
    assert float_plan(16, (0, 4095), (-511, 511), torch.float32).dtype == torch.float32  # K fits one chunk


def test_float_chunks_when_every_limit_is_small(monkeypatch):
    """Many chunks, summed in float64 and in int64, with the limits shrunk to force them."""
    monkeypatch.setitem(intmm._EXACT, torch.float32, 50_000)  # chunks of 6 columns (centred: |x w| <= 8,064)
    monkeypatch.setattr(intmm, "MIN_FLOAT32_CHUNK", 1)
    assert float_plan(37, (0, 255), (-63, 63), torch.float32) == intmm.FloatPlan(torch.float32, 128, 6)
    a = torch.randint(0, 256, (5, 37), dtype=torch.uint8)
    b = torch.randint(-63, 64, (4, 37), dtype=torch.int8)
    for backend in ("float32", "float64"):
        monkeypatch.setenv(ENV_VAR, backend)
        assert torch.equal(int_matmul(a, b, a_range=(0, 255), b_range=(-63, 63)), _reference(a, b))
    monkeypatch.setitem(intmm._EXACT, torch.float64, 10_000)  # the sum of chunks no longer fits float64
    monkeypatch.setenv(ENV_VAR, "float64")
    assert torch.equal(int_matmul(a, b, a_range=(0, 255), b_range=(-63, 63)), _reference(a, b))


def test_int8_chunks_are_exact_at_and_over_their_bound(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "int8")
    chunk = intmm._INT32_MAX // (128 * 128)  # full-range int8 digits: 131,072
    for k in (chunk, chunk + 1):
        for va, vb in ((-128, -128), (-128, 127), (127, 127)):
            a, b, want = _worst_case(k, va, vb)
            got = int_matmul(a.to(torch.int8), b.to(torch.int8), a_range=(-128, 127), b_range=(-128, 127))
            assert torch.equal(got, want)


def test_int8_k_is_chunked_before_int32_overflows(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "int8")
    monkeypatch.setattr(intmm, "_INT32_MAX", 5000)  # forces chunks of 2-3 columns
    a = torch.randint(0, 256, (5, 17), dtype=torch.uint8)
    b = torch.randint(-63, 64, (4, 17), dtype=torch.int8)
    assert torch.equal(int_matmul(a, b, a_range=(0, 255), b_range=(-63, 63)), _reference(a, b))


def test_a_result_past_int32_is_formed_in_int64(backend):
    """Centred, the partial sums fit int32, but the result 255 * 127 * k does not."""
    k = 70_000
    a = torch.full((2, k), 255, dtype=torch.uint8)
    b = torch.full((3, k), 127, dtype=torch.int8)
    assert torch.equal(int_matmul(a, b, a_range=(0, 255), b_range=(-127, 127)), torch.full((2, 3), 255 * 127 * k))


def test_large_k_with_extreme_values_does_not_overflow(backend):
    k = 140_000  # even centred, 127 * 127 * k > 2^31 and > 2^24: int32 and float32 must chunk
    a = torch.full((2, k), 255, dtype=torch.uint8)
    b = torch.full((3, k), 127, dtype=torch.int8)
    assert torch.equal(int_matmul(a, b, a_range=(0, 255), b_range=(-127, 127)), torch.full((2, 3), 255 * 127 * k))


# --------------------------------------------------------------------------- self-checks and the choice


def test_self_check_detects_a_saturating_int8_kernel(monkeypatch):
    """A kernel that saturates int16 pair sums (non-VNNI x86, optimum-quanto#309) must be caught."""

    def saturating(a, b):
        prod = a.to(torch.int32).unsqueeze(2) * b.to(torch.int32).unsqueeze(0)  # [n, k, m]
        k = prod.shape[1] - prod.shape[1] % 2
        pairs = (prod[:, :k:2] + prod[:, 1:k:2]).clamp(-(2**15), 2**15 - 1)
        return pairs.sum(1) + prod[:, k:].sum(1)

    intmm._passes_self_check.cache_clear()
    monkeypatch.setattr(torch, "_int_mm", saturating)
    try:
        assert is_exact("int8") is False
    finally:
        intmm._passes_self_check.cache_clear()


def test_self_check_detects_a_reduced_precision_float_gemm(monkeypatch):
    """A float32 GEMM that rounds its inputs to bf16 (8 significant bits) is caught on 12-bit values."""
    intmm._passes_self_check.cache_clear()
    real = intmm._float_matmul

    def bf16_inputs(a, b, *args):
        return real(a.to(torch.bfloat16).to(a.dtype), b, *args)

    monkeypatch.setattr(intmm, "_float_matmul", bf16_inputs)
    try:
        assert is_exact("float32") is False and is_exact("float64") is False
    finally:
        intmm._passes_self_check.cache_clear()


def test_float32_is_not_exact_under_reduced_matmul_precision():
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("medium")
    try:
        assert is_exact("float32") is False
    finally:
        torch.set_float32_matmul_precision(before)


def test_the_choice_is_the_fastest_exact_back_end(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(intmm, "_CHOICES", {})
    times = {"float32": 2e-3, "float64": 3e-3, "int8": 1e-3}
    monkeypatch.setattr(intmm, "_probe_seconds", lambda name, device, give_up: times[name])
    choice = choose_backend("cpu")
    assert choice.backend == "int8" and not choice.forced and choice.probe_ms == {"float32": 2, "float64": 3, "int8": 1}
    assert choose_backend(torch.device("cpu")) is choice  # kept for the process
    assert choice.as_dict()["backend"] == "int8" and "int8 1.0 ms" in choice.describe()

    monkeypatch.setattr(intmm, "_CHOICES", {})
    monkeypatch.setattr(intmm, "is_exact", lambda name, device="cpu": name != "int8")  # a broken kernel
    choice = choose_backend("cpu")
    assert choice.backend == "float32" and "int8" not in choice.probe_ms and "not exact here: int8" in choice.describe()


def test_a_slow_back_end_is_not_timed_to_the_end(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(intmm, "_CHOICES", {})
    monkeypatch.setattr(intmm, "_PROBE_SHAPE", (16, 64, 16))
    real = intmm._matmul_by
    slow = {"int8": 0.05}

    def matmul_by(name, *args):
        if name in slow:
            import time

            time.sleep(slow[name])
        return real(name, *args)

    monkeypatch.setattr(intmm, "_matmul_by", matmul_by)
    choice = choose_backend("cpu")
    assert choice.backend in ("float32", "float64") and math.isinf(choice.probe_ms["int8"])
    assert choice.as_dict()["probe_ms"]["int8"] is None and "int8 too slow" in choice.describe()


def test_forcing_a_back_end(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "float64")
    choice = choose_backend("cpu")
    assert choice.backend == "float64" and choice.forced and f"forced by {ENV_VAR}" in choice.describe()
    monkeypatch.setenv(ENV_VAR, "int4")
    with pytest.raises(ValueError, match=rf"{ENV_VAR} must be one of \['int8', 'float32', 'float64'\].*'int4'"):
        choose_backend("cpu")
    monkeypatch.setenv(ENV_VAR, "int8")
    monkeypatch.setattr(intmm, "_CHOICES", {})
    monkeypatch.setattr(intmm, "is_exact", lambda name, device="cpu": False)
    with pytest.raises(ValueError, match=rf"{ENV_VAR}=int8: that back end is not exact on this cpu"):
        choose_backend("cpu")
