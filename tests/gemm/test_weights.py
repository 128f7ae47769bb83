"""Packed weights (panacea.gemm.weights): the offline work done once, from the definitions, and the
settings they carry."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import panacea
from panacea.core.rle import rle_encode
from panacea.core.slicing import sbr_slices, to_vectors, vector_lanes


@given(
    bits=st.sampled_from([4, 7, 10]),
    dtype=st.sampled_from([torch.int8, torch.int16, torch.int64]),
    m=st.integers(1, 20),
    k=st.integers(1, 12),
    vector=st.integers(1, 8),
    index_bits=st.integers(1, 6),
    small=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**31),
)
def test_pack_weights_holds_the_offline_data_by_its_definitions(bits, dtype, m, k, vector, index_bits, small, seed):
    gen = torch.Generator().manual_seed(seed)
    q = min(2 ** (bits - 1) - 1, torch.iinfo(dtype).max)
    w = (
        torch.where(
            torch.rand((m, k), generator=gen) < small,
            torch.randint(-8, 8, (m, k), generator=gen),
            torch.randint(-q, q + 1, (m, k), generator=gen),
        )
        .clamp(-q, q)
        .to(dtype)
    )
    packed = panacea.pack_weights(w, bits=bits, vector=vector, index_bits=index_bits)
    assert (packed.bits, packed.vector, packed.index_bits, packed.shape) == (bits, vector, index_bits, (m, k))
    assert packed.slices == (bits - 1) // 3
    assert torch.equal(packed.values, w)
    assert torch.equal(packed.row_sums, w.long().sum(1))  # W 1, for the bias fold r W 1 (eq. 6)
    lo, hi = packed.value_range
    assert lo <= int(w.min()) and int(w.max()) <= hi and -(2 ** (bits - 1) - 1) <= lo and hi <= 2 ** (bits - 1) - 1
    if bits == 4:  # a single slice: no top-slice vectors to skip
        assert packed.mask.vectors == 0 and packed.mask.top_bits == 0
        return
    top = sbr_slices(w, bits)[0]
    stored = (to_vectors(top, vector, fill=0) != 0).any(-1)
    assert torch.equal(packed.mask.stored, stored)
    stream = rle_encode(to_vectors(top, vector, fill=0), stored, index_bits)
    assert packed.mask.top_bits == stream.size_bits(lanes=vector_lanes(m, vector))
    assert packed.mask.index_bits == stream.index_size_bits


def test_plain_weights_are_packed_with_the_defaults():
    w = torch.randint(-63, 64, (6, 10), dtype=torch.int8)
    x = torch.randint(0, 256, (5, 10), dtype=torch.uint8)
    packed = panacea.pack_weights(w)
    assert (packed.bits, packed.vector, packed.index_bits) == (7, 4, 4)
    assert panacea.aqs_gemm(x, w, 17).counts == panacea.aqs_gemm(x, packed, 17).counts


def test_packed_weights_carry_their_settings_and_reject_conflicts():
    w = torch.randint(-511, 512, (6, 10), dtype=torch.int16)
    packed = panacea.pack_weights(w, bits=10, vector=2, index_bits=3)
    x = torch.randint(0, 256, (5, 10), dtype=torch.uint8)
    res = panacea.aqs_gemm(x, packed, 17)  # no settings repeated: the packed ones apply
    assert res.counts == panacea.aqs_gemm(x, w, 17, w_bits=10, vector=2, index_bits=3).counts
    assert torch.equal(packed.row_sums, w.long().sum(1))
    assert panacea.aqs_gemm(x, packed, 17, w_bits=10, vector=2).counts == res.counts  # matching: fine
    for kwargs, fragment in (
        (dict(w_bits=7), "w_bits=7 was given but w_q was packed with 10"),
        (dict(vector=4), "vector=4 was given but w_q was packed with 2"),
        (dict(index_bits=4), "index_bits=4 was given but w_q was packed with 3"),
    ):
        with pytest.raises(ValueError, match=fragment):
            panacea.aqs_gemm(x, packed, 17, **kwargs)
    with pytest.raises(ValueError, match="bits=7 was given"):
        panacea.bitslice_gemm(x.to(torch.int16) - 128, packed, bits=7)
    with pytest.raises(ValueError, match="must share K"):
        panacea.aqs_gemm(x[:, :9], packed, 17)
    with pytest.raises(ValueError, match=r"bits must be one of \[4, 7, 10\]"):
        panacea.pack_weights(w, bits=9)
