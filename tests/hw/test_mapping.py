"""The mapper: the searched mapping never costs more than the fixed one, respects every capacity,
reduces to the fixed mapping on a one-point space, and reads an on-chip GEMM from DRAM once."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import panacea.hw as hw
from panacea.core.formats import weight_slice_count
from panacea.hw.architecture import KB_BITS
from panacea.hw.bitserial import synthetic_aq_workload
from panacea.hw.mapping import score, workload_key
from panacea.hw.schedule import Blocking
from panacea.hw.tiles import block_sum
from panacea.workload.build import synthetic_workload

DESIGNS = ("panacea", "sibia", "sa-ws", "sa-os", "simd", "aq-bitserial")


def _workload(design: str, n: int, k: int, m: int, sparsity: tuple[float, float], seed: int = 0):
    if design == "aq-bitserial":
        return synthetic_aq_workload(4, sparsity[0], n=n, k=k, m=m, block=64, run_bits=4, seed=seed)
    scheme = "sym" if design == "sibia" else "asym"
    return synthetic_workload(n, k, m, act_sparsity=sparsity[0], weight_sparsity=sparsity[1], scheme=scheme, seed=seed)


def _objective(model: hw.CostModel, cost: hw.Cost) -> float:
    return score(sum(cost.energy_pj.values()), cost.cycles, model.objective)


def check_capacities(model: hw.CostModel, w, mapping: hw.Mapping) -> None:
    """Every memory the mapping keeps data in holds it."""
    spec, b = model.spec, mapping.blocking
    grid, _ = model.layout(w, mapping.tiling)
    tile = grid.weight_tile if b.weights_outer else grid.act_tile
    capacity = (spec.memory.wmem_kb if b.weights_outer else spec.memory.amem_kb) * KB_BITS
    if b.resident:
        assert float(block_sum(tile, b.block).max()) * (2 if b.double_buffer else 1) <= capacity
    tiles = dict(mapping.tiling)
    if spec.kind in ("panacea", "sibia"):
        core = spec.core
        pairs = 2 if tiles.get("dtp") else 1
        rows, tokens = tiles["sub_tile_rows"], tiles["tile_tokens"]
        assert pairs * rows * tokens * core.accumulator_bits <= core.psum_kb * KB_BITS
        assert rows % core.vector == 0 and tokens % core.vector == 0
        t = model.tiles(w, core.model_copy(update=tiles))
        assert float(t.weight_bits.max()) <= core.wbuf_kb * KB_BITS
        assert t.largest_act_chunk <= core.abuf_kb * KB_BITS
    if spec.kind == "systolic" and spec.core.dataflow == "ws" and "tile_tokens" in tiles:
        assert b.block * tiles["tile_tokens"] * spec.core.cols * spec.core.accumulator_bits <= (
            spec.memory.omem_kb * KB_BITS
        )


memories = st.fixed_dictionaries(
    {
        "wmem_kb": st.sampled_from([2.0, 8.0, 32.0, 96.0]),
        "amem_kb": st.sampled_from([2.0, 8.0, 64.0]),
        "omem_kb": st.sampled_from([8.0, 32.0, 96.0]),
        "dram_bits_per_cycle": st.sampled_from([16, 64, 256]),
    }
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    design=st.sampled_from(DESIGNS),
    shape=st.tuples(st.integers(1, 300), st.integers(1, 400), st.integers(1, 300)),
    sparsity=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
    memory=memories,
    objective=st.sampled_from(hw.OBJECTIVES),
    seed=st.integers(0, 5),
)
def test_the_searched_mapping_is_never_worse_and_fits(design, shape, sparsity, memory, objective, seed):
    spec = hw.with_memory(hw.load_spec(design), **memory)
    w = _workload(design, *shape, sparsity, seed)
    fixed_model = hw.model_for(spec, mapping="fixed", objective=objective)
    try:
        fixed = fixed_model.run(w)
    except ValueError as err:  # a spec whose own tiles do not fit this layer (a tiny WBUF / OMEM)
        assert "cannot hold" in str(err)
        return
    model = hw.model_for(spec, objective=objective)
    searched = model.run(w)
    assert _objective(model, searched) <= _objective(model, fixed) * (1 + 1e-12)
    assert searched.macs == fixed.macs and searched.ops.get("multipliers:mult_4x4") == fixed.ops.get(
        "multipliers:mult_4x4"
    )
    single = model.actions(w)
    check_capacities(model, w, single.mapping)
    check_capacities(fixed_model, w, fixed_model.actions(w).mapping)


@pytest.mark.parametrize("design", DESIGNS)
def test_a_space_of_one_point_costs_what_the_fixed_mapping_costs(design):
    w = _workload(design, 300, 256, 200, (0.7, 0.4))
    model = hw.load(design)
    fixed = model.mapper.fixed(w)
    tiling = model.fixed_tiling()
    space = [(tiling, model.layout(w, tiling), [fixed.mapping.blocking])]
    assert model.search(w, space) == fixed
    assert hw.load(design, mapping="fixed").actions(w) == fixed


@pytest.mark.parametrize("design", DESIGNS)
def test_a_gemm_that_fits_on_chip_reads_each_operand_once(design):
    # 64 tokens x 64 x 64 channels: every operand fits every design's SRAMs
    w = _workload(design, 64, 64, 64, (0.5, 0.5))
    model = hw.load(design)
    cost = model.actions(w)
    if design == "aq-bitserial":
        weights, acts = float(w.w_row_bits.sum()), float(w.x_row_bits.sum())
    elif design in ("panacea", "sibia"):
        t = model.tiles(w, model.spec.core.model_copy(update=dict(cost.mapping.tiling)))
        weights, acts = float(t.weight_bits.sum()), float(t.act_bits.sum())
    else:
        weights, acts = 64 * 64 * 8.0, 64 * 64 * 8.0
    assert cost.sram_bits["wmem.write"] == round(weights)
    assert cost.sram_bits["amem.write"] == round(acts)
    assert cost.dram_bits_read == round(weights + acts)
    assert cost.dram_bits_written == 64 * 64 * model.spec.memory.output_bits


def test_sa_os_keeps_several_folds_resident_when_they_fit():
    # (1024 tokens, K = 768, 768 outputs): the fixed mapping keeps one token fold (32 x 768 bytes)
    # and re-reads all weights for each of the 32; a column fold of weights is 24 x 768 bytes
    # (18 KB), WMEM (96 KB) holds five, so the token folds (768 KB in all, more than AMEM) are read
    # once per block of five column folds.
    w = _workload("sa-os", 1024, 768, 768, (0.0, 0.0))
    fixed = hw.load("sa-os", mapping="fixed").run(w)
    searched = hw.load("sa-os").run(w)
    weights, acts = 768 * 768 * 8, 1024 * 768 * 8
    assert fixed.dram_bits_read == acts + 32 * weights
    b = searched.mapping.blocking
    assert b.weights_outer and b.resident and b.block == 5 and not b.double_buffer
    assert searched.dram_bits_read == weights + math.ceil(32 / 5) * acts
    assert searched.energy_j < fixed.energy_j


def test_the_choice_is_cached_per_kind_of_layer():
    model = hw.load("panacea")
    calls = []
    search = model.mapper.search
    model.mapper.search = lambda w, space=None: calls.append(w.name) or search(w, space)
    same = [synthetic_workload(256, 128, 128, act_sparsity=0.8, weight_sparsity=0.5, seed=s) for s in range(3)]
    other = synthetic_workload(256, 128, 128, act_sparsity=0.3, weight_sparsity=0.5)
    assert len({workload_key(w) for w in same}) == 1
    costs = [model.actions(w) for w in [*same, other]]
    assert len(calls) == 2
    assert len({c.mapping for c in costs[:3]}) == 1
    # each layer is still costed exactly on its own masks
    fixed_tiles = [hw.load("panacea").search(w) for w in same]
    assert [c.energy_pj for c in costs[:3]] == [c.energy_pj for c in fixed_tiles]


def test_objectives_pick_their_own_best():
    w = _workload("sa-ws", 1024, 768, 768, (0.0, 0.0))
    by = {o: hw.load("sa-ws", objective=o).run(w) for o in hw.OBJECTIVES}
    assert by["latency"].cycles <= min(c.cycles for c in by.values())
    assert by["energy"].energy_j <= min(c.energy_j for c in by.values())
    edp = {o: c.energy_j * c.cycles for o, c in by.items()}
    assert edp["edp"] <= min(edp.values())


def test_mapping_and_objective_names_are_checked():
    with pytest.raises(ValueError, match="mapping must be one of search, fixed"):
        hw.load("panacea", mapping="best")
    with pytest.raises(ValueError, match="objective must be one of energy, latency, edp"):
        hw.load("panacea", objective="power")


def test_every_cost_records_its_mapping():
    w = _workload("panacea", 128, 256, 256, (0.8, 0.5))
    cost = hw.load("panacea").run(w)
    text = cost.mapping.describe()
    assert "tile_tokens=" in text and "outer" in text
    assert set(cost.mapping.as_dict()) >= {"outer", "block", "resident", "double_buffer", "inner", "tile_k"}
    assert (cost + cost).mapping is None
    assert weight_slice_count(w.w_bits) == 2 and torch.is_tensor(w.act_stored)


@pytest.mark.parametrize("design", ["panacea"])  # Sibia has two tilings: both run on the whole GEMM
def test_a_large_gemm_tries_its_tilings_on_its_first_channels(design):
    w = _workload(design, 128, 256, 1500, (0.8, 0.5))
    model = hw.load(design)
    seen = []
    search = model.mapper.search
    model.mapper.search = lambda w_, space=None: seen.append((w_.m, space is None)) or search(w_, space)
    cost = model.actions(w)
    assert seen == [(1024, True), (1500, False)]  # every tiling on 1024 channels, two on all of them
    fixed = model.mapper.fixed(w)
    assert _objective(model, model.run(w)) <= _objective(model, hw.load(design, mapping="fixed").run(w))
    assert cost.macs == fixed.macs


def test_a_cached_choice_that_does_not_fit_a_layer_is_made_again():
    w = _workload("panacea", 256, 512, 256, (0.8, 0.5))
    model = hw.load("panacea")
    key, fixed = workload_key(w), model.fixed_tiling()
    # a blocking chosen for other sizes: a block larger than WMEM holds is re-chosen for this layer
    model.mapper.choices[key] = (fixed, Blocking(True, 10**6, True, True), 1.0)
    cost = model.actions(w)
    assert cost.mapping.tiling == fixed and cost.mapping.blocking.block < 10**6
    check_capacities(model, w, cost.mapping)
    # tiles that overflow this layer's WBUF: the layer is searched on its own
    huge = tuple((k, 4096 if k == "tile_k" else v) for k, v in fixed)
    model.mapper.choices[key] = (huge, Blocking(True, 1, True, True), 1.0)
    cost = model.actions(w)
    assert cost.mapping.tiling != huge
    check_capacities(model, w, cost.mapping)


@pytest.mark.parametrize("design", DESIGNS)
def test_a_close_cached_choice_never_costs_more_than_the_fixed_mapping(design):
    # a choice made for another layer of the kind (here: the outer operand streamed every step),
    # close to the fixed mapping there and bad for this one: the layer keeps the fixed mapping
    w = _workload(design, 256, 256, 256, (0.8, 0.5))
    model = hw.load(design)
    fixed = hw.load(design, mapping="fixed").run(w)
    tiling, (g, finish), _ = next(iter(model.candidates(w, [model.tilings(w)[-1]])))
    streaming = Blocking(g.orders[0], 1, False, False)
    bad = model.priced(model.pricing.mapped(finish, model.pricing.timeline(g, streaming), tiling))
    assert _objective(model, bad) > _objective(model, fixed)  # the test's premise
    model.mapper.choices[workload_key(w)] = (tiling, streaming, 1.01)
    assert _objective(model, model.run(w)) == _objective(model, fixed)
    # one far ahead of the fixed mapping where it was searched is re-used without the check
    model.mapper.choices[workload_key(w)] = (tiling, streaming, 1.5)
    assert _objective(model, model.run(w)) == _objective(model, bad)


def test_designs_costed_together_cost_what_each_costs_alone():
    """run_together shares a workload's operands and tiles between designs: the key must hold
    everything the tiles depend on (design kind, vector, index bits, tile shape)."""
    from panacea.workload.build import synthetic_workload

    base = hw.load_spec("panacea")
    specs = [
        base,
        hw.with_core(base, dwo_per_pea=6, swo_per_pea=6),
        hw.without_dtp(base),
        hw.with_core(base, tile_tokens=32, tile_k=64, psum_kb=4.0),
        hw.load_spec("sibia"),
    ]
    asym = [
        synthetic_workload(96, 256, 160, act_sparsity=0.7, weight_sparsity=s, seed=i) for i, s in enumerate((0.2, 0.6))
    ]
    sym = [synthetic_workload(96, 256, 160, act_sparsity=0.7, weight_sparsity=0.4, scheme="sym")]
    together = hw.run_together([hw.model_for(s) for s in specs[:4]], asym)
    assert together == [hw.model_for(s).run(asym) for s in specs[:4]]
    assert hw.run_together([hw.model_for(specs[4])], sym) == [hw.model_for(specs[4]).run(sym)]


def test_a_dtp_design_tries_every_tiling_of_the_design_without_dtp():
    from panacea.workload.build import synthetic_workload

    spec = hw.load_spec("panacea")
    w = synthetic_workload(256, 768, 768, act_sparsity=0.9, weight_sparsity=0.5)
    with_dtp = set(hw.model_for(spec).tilings(w))
    without = hw.model_for(hw.without_dtp(spec)).tilings(w)
    assert without and set(without) <= with_dtp
    assert any(dict(t)["dtp"] for t in with_dtp)


def test_the_memo_of_tiles_is_the_models_and_models_costed_together_share_it():
    """A model keeps the operands and tiles of the workload it costs (DTP on and off share them);
    run_together gives its models one memo, so the design without DTP finds every tile the DTP
    design laid out."""
    spec = hw.load_spec("panacea")
    w = synthetic_workload(96, 256, 160, act_sparsity=0.7, weight_sparsity=0.4)
    with_dtp, without = hw.model_for(spec), hw.model_for(hw.without_dtp(spec))
    assert with_dtp.memo is not without.memo
    laid_out = []
    tiles = without.tiles
    without.tiles = lambda w_, core: laid_out.append(core) or tiles(w_, core)
    assert hw.run_together([with_dtp, without], [w]) == [hw.model_for(s).run(w) for s in (spec, without.spec)]
    assert with_dtp.memo is without.memo and laid_out == []
