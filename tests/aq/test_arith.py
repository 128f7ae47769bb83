"""LUT products and the bit-serial MAC: exact against a float reference of the same codebooks."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from panacea.aq import codebook as cb
from panacea.aq.arith import bitserial_gemm, code_products, lut_gemm


@st.composite
def codebooks(draw):
    bits = draw(st.integers(1, 8))
    kind = draw(st.sampled_from(["uniform", "nf", "kmeans", "pow2", "custom"]))
    if kind == "pow2" and bits > 4:
        kind = "uniform"
    if kind == "custom":  # any levels of the grid, extremes included
        nonzero = draw(
            st.lists(st.integers(-128, 127).filter(bool), min_size=2**bits - 1, max_size=2**bits - 1, unique=True)
        )
        return cb.Codebook(torch.tensor([0, *nonzero]))
    seed = draw(st.integers(0, 1000))
    return cb.make(kind, bits, torch.randn(3000, generator=torch.Generator().manual_seed(seed)) * 40)


@st.composite
def gemms(draw):
    x_cb, w_cb = draw(codebooks()), draw(codebooks())
    n, k, m = draw(st.integers(1, 9)), draw(st.integers(1, 40)), draw(st.integers(1, 9))
    seed = draw(st.integers(0, 2**16))
    zeros = draw(st.sampled_from([0.0, 0.3, 0.9, 1.0]))
    gen = torch.Generator().manual_seed(seed)

    def codes(rows, book):
        c = torch.randint(0, 2**book.bits, (rows, k), generator=gen)
        c[torch.rand(rows, k, generator=gen) < zeros] = 0
        return c.to(torch.uint8)

    return codes(n, x_cb), x_cb, codes(m, w_cb), w_cb


def reference(x_codes, x_cb, w_codes, w_cb) -> torch.Tensor:
    """The float64 GEMM of the decoded levels (exact: every partial sum is an integer below 2^53)."""
    return cb.decode(x_codes, x_cb).to(torch.float64) @ cb.decode(w_codes, w_cb).to(torch.float64).T


@given(a=codebooks(), w=codebooks())
@settings(max_examples=80, deadline=None)
def test_code_products_are_the_products_of_the_levels(a, w):
    table = code_products(a, w)
    assert table.shape == (2**a.bits, 2**w.bits)
    assert torch.equal(table.to(torch.float64), torch.outer(a.levels.double(), w.levels.double()))


@given(case=gemms())
@settings(max_examples=120, deadline=None)
def test_lut_and_bitserial_gemms_are_exact(case):
    x, x_cb, w, w_cb = case
    ref = reference(*case)
    assert torch.equal(lut_gemm(*case).to(torch.float64), ref)
    res = bitserial_gemm(*case)
    assert res.output.dtype == torch.int64 and torch.equal(res.output.to(torch.float64), ref)
    # the steps are the serial codebook's; only multiplications by a nonzero serial code are processed
    serial_cb, serial_codes, other = (w_cb, w, x.shape[0]) if res.serial == "weights" else (x_cb, x, w.shape[0])
    assert res.steps == serial_cb.steps == min(x_cb.steps, w_cb.steps)
    assert res.bit_steps == int((serial_codes != 0).sum()) * other * res.steps
    assert res.skipped == x.shape[0] * w.shape[0] * x.shape[1] - res.bit_steps // res.steps


@given(case=gemms(), sx=st.floats(1e-4, 10), sw=st.floats(1e-4, 10))
@settings(max_examples=40, deadline=None)
def test_scaled_result_matches_the_float_model_of_the_codebooks(case, sx, sw):
    x, x_cb, w, w_cb = case
    floats = (sx * cb.decode(x, x_cb).double()) @ (sw * cb.decode(w, w_cb).double()).T
    assert torch.allclose(sx * sw * bitserial_gemm(*case).output.double(), floats, rtol=1e-12, atol=1e-9)


def test_unequal_precisions_cost_the_narrower_operand_only():
    gen = torch.Generator().manual_seed(0)
    x_cb, w_cb = cb.uniform(8), cb.uniform(3)  # 7 steps vs 2
    x = torch.randint(1, 256, (4, 32), generator=gen).to(torch.uint8)
    w = torch.randint(1, 8, (5, 32), generator=gen).to(torch.uint8)
    res = bitserial_gemm(x, x_cb, w, w_cb)
    assert (res.serial, res.steps, res.bit_steps) == ("weights", 2, 4 * 5 * 32 * 2)
    flipped = bitserial_gemm(w, w_cb, x, x_cb)  # the narrow operand as activations: now it is serial
    assert (flipped.serial, flipped.steps) == ("activations", 2)
    assert torch.equal(flipped.output, res.output.t())


def test_bad_codes_are_refused():
    u4, u2 = cb.uniform(4), cb.uniform(2)
    with pytest.raises(ValueError, match=r"w_codes must hold 2-bit codes in \[0, 3\]"):
        bitserial_gemm(torch.zeros(2, 3, dtype=torch.uint8), u4, torch.full((2, 3), 4, dtype=torch.uint8), u2)
    with pytest.raises(ValueError, match="share K"):
        lut_gemm(torch.zeros(2, 3, dtype=torch.uint8), u4, torch.zeros(2, 4, dtype=torch.uint8), u2)
    with pytest.raises(TypeError, match="integer dtype"):
        lut_gemm(torch.zeros(2, 3), u4, torch.zeros(2, 3, dtype=torch.uint8), u2)
