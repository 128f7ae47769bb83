"""The fast path's census (panacea.gemm.masks): from stored-vector masks, the same lanes, vector
counts and RLE sizes as the slice-level path measures on the decoded streams."""

from __future__ import annotations

from dataclasses import fields

import torch
from hypothesis import given
from hypothesis import strategies as st

from panacea.core.slicing import to_vectors
from panacea.gemm.counts import Census, Shape
from panacea.gemm.masks import mask_census, operand_mask
from panacea.gemm.slice_level import census, dense_top, through_rle


def test_operand_mask_counts_the_real_lanes_of_a_partial_last_vector():
    # 5 rows in vectors of 3: the second vector-row has 2 real lanes and 1 padding lane
    stored = torch.tensor([[True, False], [True, True]])
    mask = operand_mask(stored, rows=5, vector=3, index_bits=2, rle=True)
    assert mask.per_k.tolist() == [2, 1]
    assert mask.lanes.tolist() == [3 + 2, 2]
    assert (mask.vectors, mask.compressed) == (4, 1)
    # vector-row 0: one entry (the trailing compressed vector needs none); vector-row 1: two
    assert mask.index_bits == 3 * 2
    assert mask.top_bits == 3 * 2 + 4 * (5 + 2)
    plain = operand_mask(stored, rows=5, vector=3, index_bits=2, rle=False)
    assert (plain.top_bits, plain.index_bits) == (0, 0) and torch.equal(plain.lanes, mask.lanes)


def test_an_operand_without_a_top_slice_has_no_vectors():
    mask = operand_mask(torch.zeros((0, 6), dtype=torch.bool), rows=5, vector=4, index_bits=4, rle=True)
    assert (mask.vectors, mask.compressed, mask.top_bits, mask.index_bits) == (0, 0, 0, 0)
    assert mask.lanes.tolist() == [0] * 6


def _top(draw, rows: int, k: int, value: int) -> torch.Tensor:
    """A top-slice matrix with runs of ``value`` (the compressible one) and a few other values."""
    seed = draw(st.integers(0, 2**31))
    keep = draw(st.floats(0.0, 1.0))
    gen = torch.Generator().manual_seed(seed)
    other = torch.randint(-7, 8, (rows, k), generator=gen)
    return torch.where(torch.rand((rows, k), generator=gen) < keep, value, other)


def _assert_same_census(a: Census, b: Census) -> None:
    for f in fields(Census):
        mine, theirs = getattr(a, f.name), getattr(b, f.name)
        if isinstance(mine, torch.Tensor):
            assert mine.tolist() == theirs.tolist(), f.name
        else:
            assert mine == theirs, f.name


@given(
    n=st.integers(1, 20),
    m=st.integers(1, 20),
    k=st.integers(1, 12),
    vector=st.integers(1, 8),
    index_bits=st.integers(1, 5),
    skipped=st.sampled_from(["activations", "weights", "both"]),
    r=st.integers(0, 7),
    data=st.data(),
)
def test_mask_census_equals_the_slice_level_census(n, m, k, vector, index_bits, skipped, r, data):
    x_skipped, w_skipped = skipped in ("activations", "both"), skipped in ("weights", "both")
    x_value = r if x_skipped else 0  # an operand that is not skipped is Sibia's: compressible when 0
    x_top, w_top = _top(data.draw, n, k, x_value), _top(data.draw, m, k, 0)
    s = Shape(n=n, m=m, k=k, x_slices=2, w_slices=2, x_has_top=True, w_has_top=True)
    by_slices = census(
        s,
        through_rle(x_top, x_value, vector, index_bits) if x_skipped else dense_top(x_top, vector),
        through_rle(w_top, 0, vector, index_bits) if w_skipped else dense_top(w_top, vector),
    )
    x_mask = operand_mask(
        (to_vectors(x_top, vector, fill=x_value) != x_value).any(-1), n, vector, index_bits, rle=x_skipped
    )
    w_mask = operand_mask((to_vectors(w_top, vector, fill=0) != 0).any(-1), m, vector, index_bits, rle=w_skipped)
    _assert_same_census(mask_census(s, x_mask, w_mask, x_skipped=x_skipped, w_skipped=w_skipped), by_slices)


def test_an_operand_that_is_not_skipped_has_every_lane_present():
    stored = torch.tensor([[True, False, False]])
    s = Shape(n=3, m=5, k=3, x_slices=2, w_slices=2, x_has_top=True, w_has_top=True)
    mask = operand_mask(stored, rows=3, vector=4, index_bits=4, rle=False)
    c = mask_census(s, mask, mask, x_skipped=True, w_skipped=False)
    assert c.wh.tolist() == [5, 5, 5] and c.xh.tolist() == [3, 0, 0]
    assert (c.weight_top_bits, c.weight_index_bits) == (0, 0)
