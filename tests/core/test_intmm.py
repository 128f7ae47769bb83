"""Exact integer matmul (:mod:`panacea.core.intmm`): every back end, forced as a user forces it,
against an int64 reference on any ranges, on the paper's formats, with an offset, on grouped GEMMs
and past int32."""

from __future__ import annotations

import contextlib

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from panacea.core.intmm import exact_matmul, grouped_matmul, int_matmul
from panacea.core.intmm_backends import BACKENDS, ENV_VAR


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


# --------------------------------------------------------------------------- past int32 and the chunk bounds


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
