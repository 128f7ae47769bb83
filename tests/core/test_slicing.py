"""Slicing: exhaustive over every representable value, plus slice-vector masks."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from panacea.core.slicing import (
    act_reconstruct,
    act_slice_shifts,
    act_slices,
    act_vector_stored,
    dbs_truncate,
    from_vectors,
    ho_shift,
    sbr_reconstruct,
    sbr_slice_shifts,
    sbr_slices,
    sbr_zero_top_count,
    sbr_zero_top_range,
    to_vectors,
    vector_lanes,
    weight_vector_stored,
)


def sbr_by_hand(w: int, n: int) -> list[int]:
    """SBR as Sibia's paper words it (Panacea, section II-B), one integer at a time (top slice first)."""
    lows = []
    for _ in range(n - 1):
        lo = w & 7
        if w < 0:
            lo -= 8
            w = (w >> 3) + 1
        else:
            w >>= 3
        lows.append(lo)
    return [w, *reversed(lows)]


@pytest.mark.parametrize("bits", [4, 7, 10])
def test_sbr_every_weight(bits):
    q = 2 ** (bits - 1) - 1
    w = torch.arange(-q, q + 1)
    n = (bits - 1) // 3
    s = sbr_slices(w, bits)
    assert s.dtype == torch.int8 and s.shape == (n, w.numel())
    assert s.T.tolist() == [sbr_by_hand(v, n) for v in w.tolist()]
    assert torch.equal(sbr_reconstruct(s), w)
    assert ((s[1:] >= -8) & (s[1:] <= 7)).all()  # lower slices: 4-bit signed
    assert s[0].abs().max() <= 7  # narrow range keeps the top slice in [-7, 7]
    if n > 1:
        lo, hi = sbr_zero_top_range(bits)
        assert torch.equal(s[0] == 0, (w >= lo) & (w <= hi))
        for dtype in (torch.int8, torch.int16, torch.int32) if bits == 7 else (torch.int16, torch.int32):
            t = w.to(dtype)
            assert sbr_zero_top_count(t, bits) == int((s[0] == 0).sum()) and torch.equal(t, w.to(dtype))  # t kept
    assert sum(sbr_slice_shifts(bits)) == 3 * n * (n - 1) // 2


def test_sbr_known_values():
    assert sbr_by_hand(-5, 2) == [0, -5]  # a near-zero negative weight has a zero top slice
    assert sbr_slices(torch.tensor([-5, 9, -9, 63, -63]), 7).T.tolist() == [[0, -5], [1, 1], [-1, -1], [7, 7], [-7, -7]]
    assert sbr_zero_top_range(7) == (-8, 7)
    assert sbr_zero_top_range(10) == (-72, 63)


@pytest.mark.parametrize("bits", [8, 12])
@pytest.mark.parametrize("lo_bits", [4, 5, 6])
def test_act_slicing_every_value(bits, lo_bits):
    x = torch.arange(2**bits)
    s = act_slices(x, bits, lo_bits)
    hs = ho_shift(bits, lo_bits)
    assert s.shape == (bits // 4, x.numel()) and s.dtype == torch.uint8
    assert s.max() <= 15
    assert torch.equal(s[0].long(), x >> hs)  # HO slice, zero padded to 4 bits
    assert s[0].max() == 2 ** (bits - hs) - 1
    x_tilde = act_reconstruct(s, bits, lo_bits)
    assert torch.equal(x_tilde, dbs_truncate(x, lo_bits, bits))
    assert torch.equal(x_tilde, x - x % 2 ** (lo_bits - 4))  # exactly the dropped LSBs are lost
    if lo_bits == 4:
        assert torch.equal(x_tilde, x)  # type 1 is exact


def test_act_slice_shifts_match_the_paper():
    assert act_slice_shifts(8, 4) == [4, 0]
    assert act_slice_shifts(8, 5) == [5, 1]  # Fig. 10(b): HO = x >> 5, LO drops 1 LSB
    assert act_slice_shifts(8, 6) == [6, 2]
    assert act_slice_shifts(12, 4) == [8, 4, 0]
    assert act_slice_shifts(12, 6) == [10, 6, 2]


def test_dbs_truncate_keeps_dtype_and_type1_is_identity():
    x = torch.tensor([0, 1, 2, 3, 255], dtype=torch.uint8)
    assert dbs_truncate(x, 4) is x
    assert dbs_truncate(x, 6).tolist() == [0, 0, 0, 0, 252]
    assert dbs_truncate(x, 6).dtype == torch.uint8


@given(rows=st.integers(1, 30), k=st.integers(1, 6), v=st.integers(1, 9), fill=st.integers(-8, 15))
def test_vectors_round_trip_with_padding(rows, k, v, fill):
    m = torch.randint(-8, 16, (rows, k))
    vec = to_vectors(m, v, fill)
    assert vec.shape == (math.ceil(rows / v), k, v)
    assert torch.equal(from_vectors(vec, rows), m)
    padded = vec.transpose(1, 2).reshape(-1, k)[rows:]
    assert (padded == fill).all()
    lanes = vector_lanes(rows, v)
    assert lanes.sum() == rows and (lanes[:-1] == v).all() and 1 <= lanes[-1] <= v


@given(
    rows=st.integers(1, 20),
    k=st.integers(1, 5),
    v=st.integers(1, 8),
    bits=st.sampled_from([4, 7, 10]),
    small=st.floats(0, 1),
    seed=st.integers(0, 2**31),
)
def test_weight_vector_mask_matches_sliced_definition(rows, k, v, bits, small, seed):
    gen = torch.Generator().manual_seed(seed)
    q = 2 ** (bits - 1) - 1
    w = torch.where(
        torch.rand(rows, k, generator=gen) < small,
        torch.randint(-8, 8, (rows, k), generator=gen),
        torch.randint(-q, q + 1, (rows, k), generator=gen),
    ).clamp(-q, q)
    stored = weight_vector_stored(w, bits, v)
    if bits == 4:
        assert stored.shape == (0, k)  # no high-order slice, no top-slice vectors
        return
    by_slices = (to_vectors(sbr_slices(w, bits)[0], v, 0) != 0).any(-1)
    assert torch.equal(stored, by_slices)


@given(
    rows=st.integers(1, 20),
    k=st.integers(1, 5),
    v=st.integers(1, 8),
    bits=st.sampled_from([8, 12]),
    lo_bits=st.sampled_from([4, 5, 6]),
    data=st.data(),
)
def test_act_vector_mask_matches_sliced_definition(rows, k, v, bits, lo_bits, data):
    z = data.draw(st.integers(0, 2**bits - 1))
    spread = data.draw(st.integers(0, 2**bits))
    gen = torch.Generator().manual_seed(data.draw(st.integers(0, 2**31)))
    x = (z + torch.randint(-spread, spread + 1, (rows, k), generator=gen)).clamp(0, 2**bits - 1)
    r = z >> ho_shift(bits, lo_bits)
    by_slices = (to_vectors(act_slices(x, bits, lo_bits)[0], v, r) != r).any(-1)
    assert torch.equal(act_vector_stored(x, z, bits, lo_bits, v), by_slices)


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: sbr_slices(torch.zeros(3), 8), "w_bits must be one of [4, 7, 10]"),
        (lambda: act_slices(torch.zeros(3), 8, 3), "lo_bits must be one of [4, 5, 6]"),
        (lambda: act_slices(torch.zeros(3), 16), "x_bits must be one of [8, 12]"),
        (lambda: weight_vector_stored(torch.zeros((2, 2)), 7, 0), "vector must be in [1, 64]"),
    ],
)
def test_slicing_rejects_unsupported_widths(call, fragment):
    with pytest.raises(ValueError) as info:
        call()
    assert fragment in str(info.value)
