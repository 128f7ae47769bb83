"""Symmetric weight and asymmetric activation quantization."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from panacea.quant import (
    asymmetric_qparams,
    dequantize_asymmetric,
    dequantize_symmetric,
    quantize_asymmetric,
    quantize_symmetric,
    symmetric_scale,
)


@pytest.mark.parametrize("bits", [4, 7, 10])
@pytest.mark.parametrize(
    ("granularity", "group_size"), [("tensor", None), ("channel", None), ("group", 4), ("group", 5)]
)
def test_symmetric_round_trip(bits, granularity, group_size):
    gen = torch.Generator().manual_seed(bits)
    w = torch.randn(6, 18, generator=gen)
    w[2] = 0.0  # an all-zero channel must not divide by zero
    scale = symmetric_scale(w, bits, granularity=granularity, group_size=group_size)
    expected_shape = {"tensor": (), "channel": (6, 1), "group": (6, -(-18 // (group_size or 1)))}[granularity]
    assert tuple(scale.shape) == expected_shape
    w_q = quantize_symmetric(w, scale, bits, group_size=group_size)
    q = 2 ** (bits - 1) - 1
    assert w_q.dtype == (torch.int8 if bits < 8 else torch.int16)
    assert w_q.abs().max() == q  # the largest magnitude maps to the narrow-range end
    assert w_q.min() >= -q
    assert (w_q[2] == 0).all()
    w_hat = dequantize_symmetric(w_q, scale, group_size=group_size)
    s = scale if scale.ndim < 2 or group_size is None else scale.repeat_interleave(group_size, 1)[:, :18]
    assert ((w_hat - w).abs() <= s / 2 + 1e-7).all()


def test_per_group_scale_covers_a_partial_last_group():
    w = torch.arange(1.0, 10.0).view(1, 9)  # K = 9, groups of 4: [1..4], [5..8], [9]
    scale = symmetric_scale(w, 7, granularity="group", group_size=4)
    assert torch.allclose(scale, torch.tensor([[4.0, 8.0, 9.0]]) / 63)


@given(lo=st.floats(-100, 100), width=st.floats(0, 200), bits=st.sampled_from([8, 12]), seed=st.integers(0, 2**31))
def test_asymmetric_round_trip(lo, width, bits, seed):
    hi = lo + width
    scale, z = asymmetric_qparams(lo, hi, bits)
    qmax = 2**bits - 1
    assert 0 <= z <= qmax and scale > 0
    x = lo + torch.rand(64, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * width
    x = x.to(torch.float32)
    x_q = quantize_asymmetric(x, scale, z, bits)
    assert x_q.dtype == (torch.uint8 if bits == 8 else torch.int16)
    assert x_q.min() >= 0 and x_q.max() <= qmax
    assert quantize_asymmetric(torch.zeros(1), scale, z, bits).item() == z  # real zero is exact
    err = (dequantize_asymmetric(x_q, scale, z) - x).abs()
    assert (err <= scale * 0.5 + 1e-4 * max(1.0, abs(lo), abs(hi))).all()


def test_asymmetric_zero_point_of_one_sided_ranges():
    assert asymmetric_qparams(0.5, 2.0, 8)[1] == 0  # all positive: zero sits at the bottom
    assert asymmetric_qparams(-3.0, -1.0, 8)[1] == 255  # all negative: at the top
    assert asymmetric_qparams(-1.0, 3.0, 8) == (4.0 / 255, 64)
    assert asymmetric_qparams(0.0, 0.0, 8) == (1.0, 0)


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda: symmetric_scale(torch.ones(2, 2), 8), ValueError, "bits must be one of [4, 7, 10]"),
        (lambda: symmetric_scale(torch.ones(2, 2, dtype=torch.int8)), TypeError, "w must be a floating-point"),
        (lambda: symmetric_scale(torch.tensor([[float("nan")]])), ValueError, "w must be finite"),
        (lambda: symmetric_scale(torch.ones(2)), ValueError, "w must be 2-D"),
        (lambda: symmetric_scale(torch.ones(2, 2), granularity="row"), ValueError, "granularity must be one of"),
        (lambda: symmetric_scale(torch.ones(2, 2), granularity="group"), ValueError, "group_size is required"),
        (
            lambda: symmetric_scale(torch.ones(2, 2), granularity="group", group_size=3),
            ValueError,
            "group_size must be in [1, 2]",
        ),
        (lambda: quantize_symmetric(torch.ones(2, 4), torch.ones(2, 2)), ValueError, "group_size is required"),
        (
            lambda: quantize_symmetric(torch.ones(2, 4), torch.ones(2, 3), group_size=2),
            ValueError,
            "scale must have shape [M, 2]",
        ),
        (lambda: asymmetric_qparams(1.0, 0.0), ValueError, "x_min must be <= x_max"),
        (lambda: asymmetric_qparams(float("nan"), 1.0), ValueError, "x_min must be a finite number"),
        (lambda: asymmetric_qparams(0.0, float("inf")), ValueError, "x_max must be a finite number"),
        (lambda: asymmetric_qparams(0.0, 1.0, 16), ValueError, "bits must be one of [8, 12]"),
        (lambda: quantize_asymmetric(torch.ones(2), 0.1, 256), ValueError, "zero_point must be in [0, 255]"),
        (lambda: quantize_asymmetric(torch.ones(2), 0.0, 0), ValueError, "scale must be a finite number > 0"),
        (lambda: quantize_asymmetric(torch.tensor([float("inf")]), 0.1, 0), ValueError, "x must be finite"),
    ],
)
def test_quantizers_reject_bad_input(call, error, fragment):
    with pytest.raises(error) as info:
        call()
    assert fragment in str(info.value)
