"""The paper's number formats (panacea.core.formats), exhaustive over every allowed bit width and
zero point: 3n+1-bit SBR weights, 4n-bit unsigned activations, DBS's lowest slice, the HO slice."""

from __future__ import annotations

import itertools

import pytest
import torch

from panacea.core.formats import (
    ACT_BITS,
    LO_BITS,
    SLICE_BITS,
    WEIGHT_BITS,
    act_qmax,
    act_slice_count,
    compensates,
    ho_shift,
    weight_qmax,
    weight_slice_count,
    zero_point_ho,
)
from panacea.core.slicing import act_slices, sbr_slices

ACT_FORMATS = list(itertools.product(ACT_BITS, LO_BITS))


def test_the_allowed_widths_are_the_papers():
    assert SLICE_BITS == 4
    assert WEIGHT_BITS == (4, 7, 10)  # 3n+1 bits, n = 1, 2, 3 (section II-B)
    assert ACT_BITS == (8, 12)  # 4n bits
    assert LO_BITS == (4, 5, 6)  # DBS types 1, 2, 3 (section III-C)


@pytest.mark.parametrize("bits", WEIGHT_BITS)
def test_weights_are_narrow_range_3n_plus_1_bits_in_n_slices(bits):
    n = weight_slice_count(bits)
    assert 3 * n + 1 == bits
    q = weight_qmax(bits)
    assert q == 2 ** (bits - 1) - 1  # narrow range: -2^(b-1) is left out, the range is symmetric
    w = torch.arange(-q, q + 1)
    assert sbr_slices(w, bits).shape == (n, w.numel())


@pytest.mark.parametrize("bits", ACT_BITS)
def test_activations_are_unsigned_4n_bits_in_n_slices(bits):
    n = act_slice_count(bits)
    assert SLICE_BITS * n == bits
    assert act_qmax(bits) == 2**bits - 1
    assert act_slices(torch.arange(2**bits), bits).shape == (n, 2**bits)


@pytest.mark.parametrize(("x_bits", "lo_bits"), ACT_FORMATS)
def test_the_ho_slice_sits_above_the_lowest_and_middle_slices(x_bits, lo_bits):
    hs = ho_shift(x_bits, lo_bits)
    middle = act_slice_count(x_bits) - 2  # 4-bit slices between the HO slice and the lowest one
    assert hs == lo_bits + SLICE_BITS * middle
    assert act_qmax(x_bits) >> hs == 2 ** (x_bits - hs) - 1 <= 2**SLICE_BITS - 1  # the HO slice fits 4 bits


@pytest.mark.parametrize(("x_bits", "lo_bits"), ACT_FORMATS)
def test_zero_point_ho_and_compensation_for_every_zero_point(x_bits, lo_bits):
    hs = ho_shift(x_bits, lo_bits)
    zero_points = range(act_qmax(x_bits) + 1)
    ho_slices = act_slices(torch.tensor(zero_points), x_bits, lo_bits)[0].tolist()
    for z, ho in zip(zero_points, ho_slices, strict=True):
        r = zero_point_ho(z, x_bits, lo_bits)
        assert r == ho  # r is the zero point's own HO slice
        assert r * 2**hs <= z < (r + 1) * 2**hs  # z lies in the skip range of r, 2^ho_shift wide
        assert compensates(z, x_bits, lo_bits) == (z >= 2**hs)  # eq. (6) vanishes only for r = 0


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: weight_qmax(8), "bits must be one of [4, 7, 10], got 8"),
        (lambda: weight_slice_count(5), "w_bits must be one of [4, 7, 10], got 5"),
        (lambda: act_qmax(7), "bits must be one of [8, 12], got 7"),
        (lambda: act_slice_count(16), "x_bits must be one of [8, 12], got 16"),
        (lambda: ho_shift(8, 3), "lo_bits must be one of [4, 5, 6], got 3"),
        (lambda: zero_point_ho(0, 10, 4), "x_bits must be one of [8, 12], got 10"),
    ],
)
def test_other_widths_are_rejected(call, fragment):
    with pytest.raises(ValueError) as info:
        call()
    assert fragment in str(info.value)
