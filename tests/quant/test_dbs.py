"""The DBS type rule, checked against measured slice sparsity of quantized Gaussians."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from panacea.core.slicing import dbs_truncate, ho_shift
from panacea.quant import dbs_lo_bits, dbs_truncation_bias, dbs_type, skip_range_share, zpm_zero_point


def test_share_is_the_gaussian_mass_of_the_skip_range():
    assert skip_range_share(0.0, lo_bits=4) == 1.0
    assert math.isclose(skip_range_share(8.0, lo_bits=4), math.erf(1 / math.sqrt(2)))  # +-1 sigma
    assert math.isclose(skip_range_share(8.0, lo_bits=6), math.erf(4 / math.sqrt(2)))
    assert math.isclose(skip_range_share(8.0, lo_bits=4, x_bits=12), math.erf(16 / math.sqrt(2)))


@given(sigma=st.floats(0, 200), target=st.floats(0.01, 0.99))
def test_picks_the_narrowest_type_that_reaches_the_target(sigma, target):
    lo_bits = dbs_lo_bits(sigma, target)
    assert lo_bits in (4, 5, 6)
    reached = [skip_range_share(sigma, lo_bits=lo) >= target for lo in (4, 5, 6)]
    if lo_bits < 6:
        assert reached[lo_bits - 4]
    assert not any(reached[: lo_bits - 4])


@pytest.mark.parametrize("sigma", [2.0, 5.0, 9.0, 20.0])
def test_rule_predicts_measured_slice_sparsity(sigma):
    """Quantized Gaussian activations centred by ZPM: the predicted share is what slicing measures."""
    gen = torch.Generator().manual_seed(0)
    for lo_bits in (4, 5, 6):
        z = zpm_zero_point(100, lo_bits=lo_bits)
        x = (z + torch.round(torch.randn(200_000, generator=gen) * sigma)).clamp(0, 255)
        r = z >> ho_shift(8, lo_bits)
        measured = float(((dbs_truncate(x.long(), lo_bits) >> ho_shift(8, lo_bits)) == r).float().mean())
        assert measured == pytest.approx(skip_range_share(sigma, lo_bits=lo_bits), abs=0.03)


def test_types_and_truncation_bias():
    assert [dbs_type(lo) for lo in (4, 5, 6)] == [1, 2, 3]
    assert [dbs_truncation_bias(lo) for lo in (4, 5, 6)] == [0.0, 0.5, 1.5]
    x = torch.arange(256)
    for lo in (4, 5, 6):
        assert float((x - dbs_truncate(x, lo)).float().mean()) == dbs_truncation_bias(lo)


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: dbs_lo_bits(-1.0), "sigma must be a finite number >= 0"),
        (lambda: dbs_lo_bits(float("nan")), "sigma must be a finite number >= 0"),
        (lambda: dbs_lo_bits(3.0, 1.0), "target_sparsity must be a number in (0, 1)"),
        (lambda: dbs_lo_bits(3.0, 0.0), "target_sparsity must be a number in (0, 1)"),
        (lambda: dbs_type(7), "lo_bits must be one of [4, 5, 6]"),
    ],
)
def test_dbs_rejects_bad_input(call, fragment):
    with pytest.raises(ValueError) as info:
        call()
    assert fragment in str(info.value)
