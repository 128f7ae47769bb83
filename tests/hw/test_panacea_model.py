"""Panacea's cost model on cases small enough to count by hand (one PEA, one tile)."""

from __future__ import annotations

import pytest

from panacea.hw import load, model_for, with_core
from panacea.hw.schedule import Blocking
from panacea.workload.build import synthetic_workload

# One PEA; a sub-tile of 4 channels (one weight vector), a tile of 4 tokens (one activation
# vector), K = 16 in one chunk: per k, one outer product of each slice pair (7-bit weights and
# 8-bit activations have 2 slices each).
ONE_PEA = with_core(load("panacea").spec, peas=1, tile_tokens=4, tile_k=16)


def _run(sparsity: float, m: int = 4, **core):
    w = synthetic_workload(4, 16, m, act_sparsity=sparsity, weight_sparsity=sparsity)
    return model_for(with_core(ONE_PEA, **core), mapping="fixed").run(w), w


def test_all_dense_one_tile():
    cost, w = _run(0.0)
    # DWO work HH + HL + LH = 3 x 16 outer products on 4 DWOs: 12 cycles; SWO LL = 16 on 8: 2;
    # compensator (r = 128 >> 4 = 8): HH + LH = 32 weight-vector additions at 2 x 4 per cycle: 4.
    assert cost.cycles_compute == 12
    assert cost.busy == {"dwo": 48.0, "swo": 16.0, "compensator": 8.0}
    assert cost.units == {"dwo": 4, "swo": 8, "compensator": 2}
    # Stored operand: top slice 16 vectors x (16 data + 4 index bits) + low slice 4 x 16 x 4 bits.
    assert cost.dram_bits_read == 2 * (16 * 20 + 256)
    assert cost.dram_bits_written == 16 * 8  # 16 outputs of 8 bits
    # Loads (4.5 cycles), the step (12), the drain (0.5): nothing to overlap with.
    assert cost.cycles == 17
    assert cost.ops["multipliers:mult_4x4"] == 4 * 16 * 4 * 4 == w.counts.dense_mults
    assert cost.ops["index_decoding:index_decode"] == 32  # 16 entries per operand
    assert cost.ops["compensators:compensator_mult"] == 16
    assert cost.ops["buffers:register_bits"] == 64 * 2 * 4 * 4  # 64 outer products, 2 x 4 x 4 bits
    assert cost.utilization["dwo"] == pytest.approx(48 / (4 * 17))


def test_all_compressed_one_tile():
    cost, w = _run(1.0)
    # Only LL is left: 16 outer products on 8 SWOs; no index entry (no stored vector, no run
    # longer than the row), no compensator addition.
    assert cost.cycles_compute == 2
    assert cost.busy == {"dwo": 0.0, "swo": 16.0, "compensator": 0.0}
    assert cost.dram_bits_read == 2 * 256
    assert cost.ops["multipliers:mult_4x4"] == 16 * 16 == w.counts.mults
    assert cost.ops["compensators:add_16"] == 0
    assert cost.ops["index_decoding:index_decode"] == 0
    assert cost.cycles == round(512 / 256 + 2 + 128 / 256)


def test_double_tile_processing_balances_ll_work_onto_the_dwos():
    # Two m-tiles of one sub-tile each, all compressed: 16 LL products each. Alone: 2 + 2 cycles.
    off, _ = _run(1.0, m=8, dtp=False)
    assert off.cycles_compute == 4
    # DTP: D = 0, S = 32; moving x = 10 of the second sub-tile's LL work to the DWOs gives
    # max(ceil(10 / 4), ceil(22 / 8)) = 3 cycles.
    on, _ = _run(1.0, m=8, dtp=True)
    assert on.cycles_compute == 3
    assert on.busy["dwo"] == 10 and on.busy["swo"] == 22
    # the pair reads the activation tile once for both m-tiles
    assert on.sram_bits["amem.read"] == off.sram_bits["amem.read"] / 2


def test_double_tile_processing_needs_both_chunks_in_the_wbuf():
    # Each compressed chunk takes 256 bits; a 400-bit WBUF holds one but not the pair.
    cost, _ = _run(1.0, m=8, dtp=True, wbuf_kb=400 / 8192)
    assert cost.cycles_compute == 4


def test_dense_dtp_gains_nothing_when_the_dwos_are_the_bottleneck():
    on, _ = _run(0.0, m=8, dtp=True)
    off, _ = _run(0.0, m=8, dtp=False)
    assert on.cycles_compute == off.cycles_compute == 24


def test_more_dwos_speed_up_dense_work():
    cost, _ = _run(0.0, dwo_per_pea=8, swo_per_pea=4)
    # 48 / 8 = 6 DWO cycles, 16 / 4 = 4 SWO cycles, compensator 4
    assert cost.cycles_compute == 6


def test_zero_point_at_zero_needs_no_compensation():
    w = synthetic_workload(4, 16, 4, act_sparsity=0.5, weight_sparsity=0.5, zero_point=0)
    cost = model_for(ONE_PEA, mapping="fixed").run(w)
    assert cost.busy["compensator"] == 0
    assert cost.ops["compensators:compensator_mult"] == 0 == w.counts.compensation_mults


def test_sixteen_peas_share_the_activation_tile():
    # 16 sub-tiles in one m-tile: compute as for one PEA, the activation tile read once
    w = synthetic_workload(4, 16, 64, act_sparsity=0.0, weight_sparsity=0.0)
    cost = model_for(with_core(ONE_PEA, peas=16), mapping="fixed").run(w)
    assert cost.cycles_compute == 12
    assert cost.sram_bits["amem.read"] == 16 * 20 + 256


def test_sparsity_never_slows_panacea_down():
    model = load("panacea")
    cycles = [
        model.run(synthetic_workload(128, 256, 256, act_sparsity=s, weight_sparsity=s)).cycles for s in (0.0, 0.5, 0.9)
    ]
    assert cycles[0] > cycles[1] > cycles[2]


def test_panacea_rejects_symmetric_workloads_and_other_vectors():
    model = load("panacea")
    sym = synthetic_workload(8, 8, 8, act_sparsity=0.5, weight_sparsity=0.5, scheme="sym")
    with pytest.raises(ValueError, match="asym"):
        model.run(sym)
    v8 = synthetic_workload(8, 8, 8, act_sparsity=0.5, weight_sparsity=0.5, vector=8)
    with pytest.raises(ValueError, match=r"core\.vector=4"):
        model.run(v8)


def test_a_chunk_larger_than_the_wbuf_is_a_spec_error():
    w = synthetic_workload(4, 16, 4, act_sparsity=0.0, weight_sparsity=0.0)
    with pytest.raises(ValueError, match="wbuf_kb"):
        model_for(with_core(ONE_PEA, wbuf_kb=0.01), mapping="fixed").run(w)


@pytest.mark.parametrize(
    ("blocking", "fills"),
    [
        (Blocking(True, 1, True, True), 1),  # a row stays in WBUF for both activation tiles
        (Blocking(True, 2, True, False), 2),  # two rows do not fit WBUF: they take turns per tile
        (Blocking(False, 1, True, True), 2),  # every activation block passes every row
        (Blocking(False, 2, True, False), 1),  # one activation block: each row visited once
    ],
)
def test_wbuf_is_filled_each_time_a_pea_comes_back_to_a_row(blocking, fills):
    # Two rows (m-tiles of 4 channels) of 576 dense bits each, two activation tiles of 4 tokens;
    # WBUF (800 bits) holds one row's share, not two.
    w = synthetic_workload(8, 16, 8, act_sparsity=0.0, weight_sparsity=0.0)
    model = model_for(with_core(ONE_PEA, wbuf_kb=800 / 8192, dtp=False), mapping="fixed")
    tiling = model.fixed_tiling()
    cost = model.search(w, [(tiling, model.layout(w, tiling), [blocking])])
    assert cost.mapping.blocking == blocking
    assert cost.sram_bits["wmem.read"] == fills * 2 * 576
    assert cost.buffer_bits["wbuf.read"] == 2 * 2 * 576  # every activation tile reads its row


def test_an_activation_chunk_larger_than_the_abuf_is_a_spec_error_and_the_search_avoids_it():
    # a dense chunk of 4 tokens x 16 k: 512 data bits and 16 RLE entries of 4 bits = 576 > 500
    w = synthetic_workload(4, 16, 4, act_sparsity=0.0, weight_sparsity=0.0)
    spec = with_core(ONE_PEA, abuf_kb=500 / 8192)
    with pytest.raises(ValueError, match=r"core\.abuf_kb=.* activation chunk"):
        model_for(spec, mapping="fixed").run(w)
    searched = model_for(spec).run(w)
    assert dict(searched.mapping.tiling)["tile_k"] == 8  # 4 x 8 x (8 + 1) = 288 bits fit
