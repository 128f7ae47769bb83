"""AQS-GEMM and Sibia's bit-slice GEMM (panacea.gemm): exact products on both paths, the same counts
however they are asked for, the paper's motivation, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import AqsCase, SibiaCase, aqs_cases, sibia_cases
from hypothesis import given

import panacea
from panacea.core.slicing import dbs_truncate


def dense(x: torch.Tensor, w: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """The reference product, group by group (column block g of x meets column block g of w)."""
    x, w = x.to(torch.int64), w.to(torch.int64)
    k = x.shape[1] // groups
    return torch.cat([x[:, g * k : (g + 1) * k] @ w[:, g * k : (g + 1) * k].T for g in range(groups)], dim=1)


# --------------------------------------------------------------------------- AQS-GEMM


@given(aqs_cases())
def test_aqs_gemm_both_paths_exact_and_counted_alike(c: AqsCase):
    expected = dense(dbs_truncate(c.x.to(torch.int64), c.lo_bits, c.x_bits), c.w, c.groups)
    fast = panacea.aqs_gemm(c.x, c.w, c.zero_point, **c.kwargs)
    ref = panacea.aqs_gemm(c.x, c.w, c.zero_point, **c.kwargs, path="slice")
    packed = panacea.pack_weights(c.w, bits=c.w_bits, vector=c.vector, index_bits=c.index_bits)
    reused = panacea.aqs_gemm(c.x, packed, c.zero_point, x_bits=c.x_bits, lo_bits=c.lo_bits, groups=c.groups)
    assert fast.output.dtype == torch.int64
    assert torch.equal(fast.output, expected)
    assert torch.equal(ref.output, expected)
    assert torch.equal(reused.output, expected)
    assert fast.counts == ref.counts == reused.counts
    counts = panacea.gemm.aqs_counts(c.x, packed, c.zero_point, x_bits=c.x_bits, lo_bits=c.lo_bits, groups=c.groups)
    assert counts == fast.counts  # counts without the product


def test_symmetric_zero_point_on_panacea():
    """Symmetric activations on the same hardware: zero point 2^(b-1), r = 8 (paper IV, Fig. 18)."""
    x = torch.full((8, 16), 128, dtype=torch.uint8)
    w = torch.ones((4, 16), dtype=torch.int8)
    c = panacea.aqs_gemm(x, w, 128).counts
    assert c.act_vector_sparsity == 1.0
    assert torch.equal(panacea.aqs_gemm(x, w, 128).output, dense(x, w))


def test_aqs_skips_r_valued_vectors_and_zpm_centres_them():
    """The paper's motivation (Fig. 5, Fig. 8, Fig. 18b) on one set of integers around z = 100."""
    gen = torch.Generator().manual_seed(1)
    noise = torch.randint(-7, 8, (256, 128), generator=gen)
    w = torch.randint(-6, 7, (64, 128), generator=gen).to(torch.int8)
    z = 100  # HO bin 6 is [96, 111]: values 93..99 spill into bin 5
    z_zpm = panacea.quant.zpm_zero_point(z)
    assert z_zpm == 6 * 16 + 8  # ZPM: middle of the HO bin, r unchanged
    x = (z + noise).to(torch.uint8)
    x_zpm = (z_zpm + noise).to(torch.uint8)  # quantizing with z' shifts every value by z' - z
    zero_only = panacea.aqs_gemm(x, w, 0).counts  # r = 0: only zero HO slices compress
    aqs = panacea.aqs_gemm(x, w, z).counts
    zpm = panacea.aqs_gemm(x_zpm, w, z_zpm).counts
    assert zero_only.act_vector_sparsity == 0.0
    assert 0.0 < aqs.act_vector_sparsity < zpm.act_vector_sparsity == 1.0
    assert zpm.mults < aqs.mults < zero_only.mults


# --------------------------------------------------------------------------- Sibia


@given(sibia_cases())
def test_bitslice_gemm_both_paths_exact_and_counted_alike(c: SibiaCase):
    expected = dense(c.x, c.w, c.groups)
    fast = panacea.bitslice_gemm(c.x, c.w, **c.kwargs)
    ref = panacea.bitslice_gemm(c.x, c.w, **c.kwargs, path="slice")
    packed = panacea.pack_weights(c.w, bits=c.bits, vector=c.vector, index_bits=c.index_bits)
    reused = panacea.bitslice_gemm(c.x, packed, x_bits=c.x_bits, groups=c.groups, path="slice")
    assert torch.equal(fast.output, expected)
    assert torch.equal(ref.output, expected)
    assert torch.equal(reused.output, expected)
    assert fast.counts == ref.counts == reused.counts
    assert panacea.gemm.bitslice_counts(c.x, packed, x_bits=c.x_bits, groups=c.groups) == fast.counts  # no product
    s = fast.counts
    x_top, w_top = c.x_bits > 4, c.bits > 4
    if not (x_top or w_top):
        assert s.skipped == "none"
    elif x_top != w_top:
        assert s.skipped == ("activations" if x_top else "weights")
    else:
        assert s.skipped == ("activations" if s.act_vector_sparsity >= s.weight_vector_sparsity else "weights")


# --------------------------------------------------------------------------- bad input


X = torch.zeros((4, 8), dtype=torch.uint8)
W = torch.zeros((3, 8), dtype=torch.int8)


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        (dict(x_q=X.float()), TypeError, "x_q must have an integer dtype"),
        (dict(w_q=W.double()), TypeError, "w_q must have an integer dtype"),
        (dict(x_q=[[1, 2]]), TypeError, "x_q must be a torch.Tensor"),
        (dict(x_q=X[0]), ValueError, "x_q must be a 2-D tensor"),
        (dict(x_q=X[:0]), ValueError, "every dimension >= 1"),
        (dict(w_q=torch.zeros((3, 7), dtype=torch.int8)), ValueError, "must share K"),
        (dict(x_q=X.to(torch.int16) + 300), ValueError, "x_q must hold unsigned 8-bit activations in [0, 255]"),
        (dict(x_q=X.to(torch.int16) - 1), ValueError, "found values in [-1, -1]"),
        (dict(w_q=W - 64), ValueError, "w_q must hold narrow-range signed 7-bit weights in [-63, 63]"),
        (dict(w_q=W + 8, w_bits=4), ValueError, "[-7, 7]"),
        (dict(zero_point=256), ValueError, "zero_point must be in [0, 255]"),
        (dict(zero_point=-1), ValueError, "zero_point must be in [0, 255]"),
        (dict(zero_point=1.5), TypeError, "zero_point must be an integer"),
        (dict(zero_point=True), TypeError, "zero_point must be an integer"),
        (dict(w_bits=8), ValueError, "w_bits must be one of [4, 7, 10]"),
        (dict(x_bits=16), ValueError, "x_bits must be one of [8, 12]"),
        (dict(lo_bits=7), ValueError, "lo_bits must be one of [4, 5, 6]"),
        (dict(vector=0), ValueError, "vector must be in [1, 64]"),
        (dict(index_bits=17), ValueError, "index_bits must be in [1, 16]"),
        (dict(path="dense"), ValueError, "path must be one of ['fast', 'slice']"),
        (dict(groups=3), ValueError, "groups must divide K=8, got groups=3"),
    ],
)
def test_aqs_gemm_rejects_bad_input(kwargs, error, fragment):
    args = dict(x_q=X, w_q=W, zero_point=0) | kwargs
    with pytest.raises(error) as info:
        panacea.aqs_gemm(args.pop("x_q"), args.pop("w_q"), args.pop("zero_point"), **args)
    assert fragment in str(info.value)


def test_aqs_gemm_accepts_numpy_and_zero_dim_tensor_zero_point():
    x = np.full((2, 3), 7, dtype=np.uint8)
    w = np.ones((2, 3), dtype=np.int8)
    res = panacea.aqs_gemm(x, w, torch.tensor(7))
    assert res.output.tolist() == [[21, 21], [21, 21]]


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        (dict(x_q=torch.full((2, 8), 64, dtype=torch.int8)), ValueError, "signed 7-bit activations in [-63, 63]"),
        (dict(bits=8), ValueError, "bits must be one of [4, 7, 10]"),
        (dict(x_q=torch.zeros((2, 8), dtype=torch.bool)), TypeError, "x_q must have an integer dtype"),
    ],
)
def test_bitslice_gemm_rejects_bad_input(kwargs, error, fragment):
    args = dict(x_q=torch.zeros((2, 8), dtype=torch.int8), w_q=W) | kwargs
    with pytest.raises(error) as info:
        panacea.bitslice_gemm(args.pop("x_q"), args.pop("w_q"), **args)
    assert fragment in str(info.value)
