"""Exact integer matmul: every digit split, K chunking, and the float64 fallback."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from panacea import intmm
from panacea.intmm import int_matmul, int_mm_is_exact


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


@given(operands())
def test_int_matmul_is_exact(ops):
    a, b, ar, br = ops
    assert torch.equal(int_matmul(a, b, a_range=ar, b_range=br), a @ b.T)


@pytest.mark.parametrize(
    ("dtype", "lo", "hi"), [(torch.uint8, 0, 255), (torch.int8, -128, 127), (torch.int16, 0, 4095)]
)
def test_native_dtypes_at_their_extremes(dtype, lo, hi):
    a = torch.tensor([[lo, hi, hi], [hi, lo, hi]], dtype=dtype)
    b = torch.tensor([[-63, 63, -63], [127, -128, 5]], dtype=torch.int8)
    assert torch.equal(int_matmul(a, b, a_range=(lo, hi), b_range=(-128, 127)), a.long() @ b.long().T)


def test_k_is_chunked_before_int32_overflows(monkeypatch):
    monkeypatch.setattr(intmm, "_INT32_MAX", 5000)  # forces chunks of 2-3 columns
    a = torch.randint(0, 256, (5, 17), dtype=torch.uint8)
    b = torch.randint(-63, 64, (4, 17), dtype=torch.int8)
    assert torch.equal(int_matmul(a, b, a_range=(0, 255), b_range=(-63, 63)), a.long() @ b.long().T)


def test_large_k_with_extreme_values_does_not_overflow():
    k = 140_000  # even centred, 127 * 127 * k > 2^31: the int32 accumulator must be chunked
    a = torch.full((2, k), 255, dtype=torch.uint8)
    b = torch.full((3, k), 127, dtype=torch.int8)
    assert torch.equal(int_matmul(a, b, a_range=(0, 255), b_range=(-127, 127)), torch.full((2, 3), 255 * 127 * k))


@given(operands())
def test_float64_fallback_is_exact(ops):
    a, b, ar, br = ops
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(intmm, "int_mm_is_exact", lambda device="cpu": False)
        mp.setattr(intmm, "_FLOAT64_EXACT", 2**40)  # small enough to exercise the K chunking
        assert torch.equal(int_matmul(a, b, a_range=ar, b_range=br), a @ b.T)


def test_self_check_detects_a_saturating_kernel(monkeypatch):
    """A kernel that saturates int16 pair sums (non-VNNI x86, optimum-quanto#309) must be caught."""

    def saturating(a, b):
        prod = a.to(torch.int32).unsqueeze(2) * b.to(torch.int32).unsqueeze(0)  # [n, k, m]
        k = prod.shape[1] - prod.shape[1] % 2
        pairs = (prod[:, :k:2] + prod[:, 1:k:2]).clamp(-(2**15), 2**15 - 1)
        return pairs.sum(1) + prod[:, k:].sum(1)

    int_mm_is_exact.cache_clear()
    monkeypatch.setattr(torch, "_int_mm", saturating)
    try:
        assert int_mm_is_exact() is False
    finally:
        int_mm_is_exact.cache_clear()
