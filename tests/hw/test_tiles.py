"""The per-tile slice work of the bit-slice cost models agrees with the GEMMs' own counts."""

from __future__ import annotations

import math

import torch
from conftest import aqs_cases, sibia_cases
from hypothesis import given
from hypothesis import strategies as st

from panacea.hw import load, model_for, with_core
from panacea.workload.build import gemm_workload


def _model(name: str, case, draw_tiles: tuple[int, int, int]):
    """A two-PEA model of the case's vector and index widths, tiles from ``draw_tiles``."""
    rows, tokens, tile_k = draw_tiles
    spec = with_core(
        load(name).spec,
        vector=case.vector,
        index_bits=case.index_bits,
        sub_tile_rows=rows * case.vector,
        tile_tokens=tokens * case.vector,
        tile_k=tile_k,
        peas=2,
        wbuf_kb=64,
        psum_kb=64,
    )
    return model_for(spec, mapping="fixed")


tiles_st = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 30))


def _check_lanes(lanes, counts) -> None:
    assert (lanes.hh, lanes.hl, lanes.lh, lanes.ll) == (
        counts.mults_hh,
        counts.mults_hl,
        counts.mults_lh,
        counts.mults_ll,
    )
    assert lanes.compensation_adds == counts.compensation_adds


@given(aqs_cases(), tiles_st)
def test_panacea_tiles_count_what_aqs_gemm_counts(case, tiles):
    w = gemm_workload(case.x, case.w, case.zero_point, **case.kwargs)
    model = _model("panacea", case, tiles)
    t = model.tiles(w, model.spec.core)
    _check_lanes(t.lanes, w.counts)
    cost = model.run(w)
    ops = cost.ops
    assert ops["multipliers:mult_4x4"] == w.counts.mults
    assert ops["compensators:compensator_mult"] == w.counts.compensation_mults
    assert ops["accumulators:accumulate"] + ops["compensators:add_16"] == w.counts.adds
    # vector outer products: every lane product lies in one, each holds at most vector^2
    products = float(t.total.sum(dtype=torch.float64))
    assert w.counts.mults <= products * case.vector**2
    if case.groups == 1 and tiles[2] >= w.k:  # one RLE row per vector row, as the GEMM counts it
        assert float(t.weight_bits.sum()) == w.counts.weight_bits
        assert float(t.act_bits.sum()) == w.counts.act_bits
    chunks = math.ceil(w.k / tiles[2])
    assert t.hh.shape[2] == chunks


@given(sibia_cases(), tiles_st)
def test_sibia_tiles_count_what_bitslice_gemm_counts(case, tiles):
    w = gemm_workload(
        case.x,
        case.w,
        None,
        w_bits=case.bits,
        x_bits=case.x_bits,
        vector=case.vector,
        index_bits=case.index_bits,
        groups=case.groups,
    )
    model = _model("sibia", case, tiles)
    t = model.tiles(w, model.spec.core)
    _check_lanes(t.lanes, w.counts)
    assert model.run(w).ops["multipliers:mult_4x4"] == w.counts.mults
    # dense storage: what the GEMM reports as stored
    assert float(t.weight_bits.sum()) == w.counts.weight_bits
    assert float(t.act_bits.sum()) == w.counts.act_bits
