"""Golden vectors: the expected sums equal the exact GEMM of the tile; the files round-trip."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from panacea.gemm import aqs_gemm
from panacea.rtl.vectors import read_vectors, tile_vectors, write_vectors


def _operands(seed: int, n: int, k: int, m: int, zero_point: int, spread: int, w_max: int):
    g = torch.Generator().manual_seed(seed)
    x = (zero_point + torch.randint(-spread, spread + 1, (n, k), generator=g)).clamp(0, 255)
    w = torch.randint(-w_max, w_max + 1, (m, k), generator=g)
    return x.to(torch.uint8), w.to(torch.int8)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    zero_point=st.integers(0, 255),
    spread=st.sampled_from([0, 3, 20, 255]),
    w_max=st.sampled_from([0, 7, 20, 63]),
    lo_bits=st.sampled_from([4, 5, 6]),
    vector=st.sampled_from([1, 2, 4]),
    index_bits=st.integers(1, 4),
    rows=st.integers(1, 3),
    kc=st.integers(1, 40),
)
def test_a_tile_s_expected_results_are_its_exact_gemm(
    seed, zero_point, spread, w_max, lo_bits, vector, index_bits, rows, kc
):
    x_q, w_q = _operands(seed, rows * vector + vector, kc + 3, 2 * vector, zero_point, spread, w_max)
    tv = tile_vectors(
        x_q,
        w_q,
        zero_point,
        lo_bits=lo_bits,
        vector=vector,
        index_bits=index_bits,
        m_row=1,
        n_row=1,
        rows=rows,
        k0=3,
        kc=kc,
    )
    x, w = x_q[vector : (rows + 1) * vector, 3:], w_q[vector:, 3:]
    assert torch.equal(tv.out, aqs_gemm(x, w, zero_point, lo_bits=lo_bits, vector=vector).output.T)
    assert tv.w_rowsum.tolist() == w.long().sum(1).tolist()


def test_the_files_round_trip_through_their_manifest(tmp_path):
    x_q, w_q = _operands(0, 12, 40, 8, 117, 20, 63)
    tv = tile_vectors(x_q, w_q, 117, lo_bits=5, index_bits=2, m_row=1, n_row=0, rows=3, k0=4, kc=32)
    assert tv.w_ho_index.numel() and (tv.x_ho_index == 3).any()  # fillers (2-bit indices) in the stream
    write_vectors(tv, tmp_path, about={"layer": "test"})
    back = read_vectors(tmp_path)
    for name in (
        "w_q",
        "x_q",
        "w_ho_index",
        "w_ho_data",
        "w_lo",
        "x_ho_index",
        "x_ho_entries",
        "x_ho_data",
        "x_lo",
        "w_rowsum",
        "cs",
        "psum",
        "out",
    ):
        a, b = getattr(tv, name), getattr(back, name)
        assert a.dtype == b.dtype and torch.equal(a, b), name
    assert (back.vector, back.index_bits, back.lo_bits, back.zero_point) == (4, 2, 5, 117)
    # $readmemh: one hex word per line, 4 bits per slice, lane 0 least significant
    first = (tmp_path / "w_lo.hex").read_text().splitlines()[0]
    assert int(first, 16) == sum((int(s) & 15) << (4 * j) for j, s in enumerate(tv.w_lo[0]))


def test_a_tile_outside_the_layer_is_refused():
    x_q, w_q = _operands(0, 8, 16, 4, 100, 5, 7)
    with pytest.raises(ValueError, match="n_row: the tile"):
        tile_vectors(x_q, w_q, 100, rows=3)
