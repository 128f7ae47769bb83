"""The slice-level path (panacea.gemm.slice_level): top slices through RLE, the bit-slice products,
and the compensator of eq. (6) that makes skipping r-valued activation vectors exact."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

import panacea
from panacea.core.formats import zero_point_ho
from panacea.core.slicing import act_slice_shifts, act_slices, sbr_slice_shifts, sbr_slices, to_vectors
from panacea.gemm.counts import Shape
from panacea.gemm.slice_level import bitslice_products, dense_top, through_rle


@given(
    rows=st.integers(1, 20),
    k=st.integers(1, 12),
    vector=st.integers(1, 8),
    index_bits=st.integers(1, 5),
    value=st.integers(0, 15),
    keep=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**31),
)
def test_through_rle_drops_exactly_the_compressible_vectors(rows, k, vector, index_bits, value, keep, seed):
    gen = torch.Generator().manual_seed(seed)
    top = torch.where(
        torch.rand((rows, k), generator=gen) < keep, value, torch.randint(0, 16, (rows, k), generator=gen)
    )
    t = through_rle(top, value, vector, index_bits)
    stored = (to_vectors(top, vector, fill=value) != value).any(-1)
    assert torch.equal(t.stored, stored)
    assert torch.equal(t.present, stored.repeat_interleave(vector, dim=0)[:rows])
    assert torch.equal(t.values, torch.where(t.present, top, 0))  # dropped vectors never reach the multipliers
    assert t.total_bits == t.index_bits + 4 * int(t.present.sum())  # 4 bits per stored real lane


def test_dense_top_keeps_every_lane():
    top = torch.tensor([[0, 0], [0, 3], [0, 0]])
    t = dense_top(top, vector=2)
    assert torch.equal(t.values, top) and bool(t.present.all())
    assert t.stored.tolist() == [[False, True], [False, False]]
    assert (t.total_bits, t.index_bits) == (0, 0)


@given(
    x_bits=st.sampled_from([8, 12]),
    w_bits=st.sampled_from([4, 7, 10]),
    groups=st.sampled_from([1, 2, 3]),
    seed=st.integers(0, 2**31),
)
def test_bitslice_products_rebuild_the_product_from_shifted_slices(x_bits, w_bits, groups, seed):
    gen = torch.Generator().manual_seed(seed)
    n, m, k = 5, 4, 2 * groups
    x = torch.randint(0, 2**x_bits, (n, k), generator=gen)
    q = 2 ** (w_bits - 1) - 1
    w = torch.randint(-q, q + 1, (m, k), generator=gen)
    s = Shape(
        n, m, k, x_slices=x_bits // 4, w_slices=(w_bits - 1) // 3, x_has_top=True, w_has_top=w_bits > 4, groups=groups
    )
    x_parts = list(zip(act_slices(x, x_bits), act_slice_shifts(x_bits), strict=True))
    w_parts = list(zip(sbr_slices(w, w_bits), sbr_slice_shifts(w_bits), strict=True))
    kg = k // groups
    expected = torch.cat([x[:, g * kg : (g + 1) * kg] @ w[:, g * kg : (g + 1) * kg].T for g in range(groups)], dim=1)
    assert torch.equal(bitslice_products(s, x_parts, w_parts), expected)


def test_aqs_gemm_compensation_is_what_makes_it_exact():
    """Without eq. (6) the skipped r-valued vectors would be lost: the error is r W 1_C exactly."""
    gen = torch.Generator().manual_seed(0)
    x = (120 + torch.randint(-6, 7, (64, 96), generator=gen)).to(torch.uint8)
    w = torch.randint(-63, 64, (32, 96), generator=gen).to(torch.int8)
    expected = x.long() @ w.long().T
    res = panacea.aqs_gemm(x, w, 120, path="slice")
    assert torch.equal(res.output, expected)
    assert res.counts.act_vector_sparsity > 0.5
    assert res.counts.compensation_mults == 64 * 32

    r, (ho, lo) = zero_point_ho(120, 8, 4), act_slice_shifts(8, 4)
    xs = act_slices(x, 8, 4)
    x_top = through_rle(xs[0], r, 4, 4)  # X_H^U: the r-valued vectors are gone
    s = Shape(n=64, m=32, k=96, x_slices=2, w_slices=2, x_has_top=True, w_has_top=True)
    w_parts = list(zip(sbr_slices(w, 7), sbr_slice_shifts(7), strict=True))
    uncompensated = bitslice_products(s, [(x_top.values, ho), (xs[1], lo)], w_parts)
    ones_c = (~x_top.present).long()  # 1_C: the lanes of the compressed vectors
    assert r != 0 and bool(ones_c.any())
    assert torch.equal(expected - uncompensated, (r << ho) * (ones_c @ w.long().T))
