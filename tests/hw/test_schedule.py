"""The loop nest above the core: DRAM traffic per blocking and compute/memory overlap, by hand."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from panacea.hw.schedule import Blocking, blockings, fixed_blocking, grid, largest_block, timeline


def _grid(compute, *, weight_tile=256.0, act_tile=512.0, out=256.0, sub_steps=1, **options):
    compute = torch.tensor(compute, dtype=torch.float64)
    n_i, n_t = compute.shape
    return grid(
        compute,
        weight_tile=torch.full((n_i,), weight_tile),
        act_per_group=torch.full((n_t,), act_tile),
        out_bits=torch.full_like(compute, out),
        sub_steps=sub_steps,
        **options,
    )


def _fixed(g, wmem=1e9, amem=1e9):
    tls = [
        timeline(g, b, wmem_bits=wmem, amem_bits=amem, dram_bits_per_cycle=256)
        for b in fixed_blocking(g, wmem_bits=wmem, amem_bits=amem)
    ]
    return min(tls, key=lambda t: t.dram_read)


def _run(g, blocking, wmem=1e9, amem=1e9):
    return timeline(g, blocking, wmem_bits=wmem, amem_bits=amem, dram_bits_per_cycle=256)


def test_compute_bound_steps_hide_their_transfers():
    tl = _fixed(_grid([[10.0, 10.0]]))
    # loads: weights once (256) + both activation tiles (2 x 512); first load 768 bits = 3 cycles,
    # two steps of 10 (the second tile's 512 bits and the first drain hide under the first step),
    # the last drain 1 cycle.
    assert (tl.dram_read, tl.dram_written) == (1280, 512)
    assert tl.cycles_compute == 20
    assert tl.cycles_memory == 7
    assert tl.cycles == 3 + 10 + 10 + 1


def test_memory_bound_steps_wait_for_dram():
    tl = _fixed(_grid([[1.0, 1.0]]))
    # step 1 waits for the second activation tile (2 cycles), step 2 for the first drain (1)
    assert tl.cycles == 3 + 2 + 1 + 1


def test_tiles_that_do_not_fit_are_reloaded_and_the_cheaper_order_wins():
    # Two weight tiles x three activation tiles. The activations (3 x 512) do not fit AMEM (1000),
    # nor do two of their tiles: weights outer reloads them per weight tile: 2 x 256 + 2 x 1536 =
    # 3584 bits; activations outer keeps each activation tile, weights do fit: 512 + 1536 = 2048.
    g = _grid([[5.0] * 3] * 2)
    tl = _fixed(g, amem=1000.0)
    assert not tl.weights_outer
    assert tl.dram_read == 2048 and tl.act_loads == 1536 and tl.weight_loads == 512
    forced = _run(g, Blocking(True, 1, True, True), amem=1000.0)
    assert forced.dram_read == 3584 and forced.inner == "step"
    assert forced.weight_loaded.tolist() == [256.0, 256.0]


def test_a_weight_tile_larger_than_wmem_streams_every_step():
    g = _grid([[5.0] * 3], orders=(True,))
    assert fixed_blocking(g, wmem_bits=100.0, amem_bits=1e9) == [Blocking(True, 1, False, False)]
    assert _fixed(g, wmem=100.0).weight_loads == 3 * 256


def test_chunked_steps_overlap_their_own_loads():
    # one step in 4 chunks: the resident weight tile (256 bits) is exposed whole, of the streamed
    # activation tile (768 bits) only the first chunk
    tl = _fixed(_grid([[40.0]], act_tile=768.0, sub_steps=4))
    assert tl.cycles == round(256 / 256 + 768 / 256 / 4 + 40 + 1)
    whole = _fixed(_grid([[40.0]], act_tile=768.0))
    assert whole.cycles == round(1024 / 256 + 40 + 1)


def test_a_resident_block_reloads_the_inner_operand_once_per_block():
    # 4 weight tiles of 256 bits, 3 activation tiles of 512: all activations (1536) do not fit AMEM
    # (1100), two tiles of them (1024) do, so each block re-reads them once.
    g = _grid([[5.0] * 3] * 4, orders=(True,))
    caps = dict(wmem=1024.0, amem=1100.0)
    one, two, four = (_run(g, Blocking(True, b, True, b < 4), **caps) for b in (1, 2, 4))
    assert [t.dram_read for t in (one, two, four)] == [1024 + 4 * 1536, 1024 + 2 * 1536, 1024 + 1536]
    assert {t.inner for t in (one, two, four)} == {"block"}
    options = blockings(g, wmem_bits=1024.0, amem_bits=1100.0)
    assert Blocking(True, 4, True, False) in options and Blocking(True, 2, True, True) in options
    assert Blocking(True, 4, True, True) not in options  # two blocks of 4 do not fit WMEM


def test_double_buffering_hides_the_next_block_over_the_reuse_period():
    # Two weight tiles of 2560 bits (10 cycles of DRAM each), four activation tiles of 256 used by
    # steps of 10 cycles, no outputs. First load (2560 + 256) / 256 = 11 cycles; double-buffered,
    # tile 1 loads during tile 0's 40 cycles (with the activation tiles' 768 bits: 13 cycles of
    # DRAM, hidden); single-buffered, it waits for tile 0 to finish (10 cycles exposed).
    g = _grid([[10.0] * 4] * 2, weight_tile=2560.0, act_tile=256.0, out=0.0, orders=(True,))
    double = _run(g, Blocking(True, 1, True, True))
    single = _run(g, Blocking(True, 1, True, False), wmem=3000.0)
    assert double.cycles == 11 + 40 + 40
    assert single.cycles == 11 + 50 + 40
    assert double.dram_read == single.dram_read == 2 * 2560 + 4 * 256


def test_a_block_loads_only_the_groups_its_tiles_use():
    # 4 weight tiles, two per group, 2 activation tiles of 100 bits per group; AMEM (250) holds two
    # tile parts but not all 400 bits: a block of the two tiles of one group loads each of that
    # group's parts once (400 bits in all); one tile per block loads them per tile (800).
    compute = torch.full((4, 2), 5.0, dtype=torch.float64)
    g = grid(
        compute,
        weight_tile=torch.full((4,), 64.0),
        act_per_group=torch.full((2,), 100.0),
        tile_group=torch.tensor([0, 0, 1, 1]),
        groups=2,
        out_bits=torch.zeros_like(compute),
        orders=(True,),
    )
    assert g.act_need.tolist() == [[100.0, 100.0]] * 4
    assert _run(g, Blocking(True, 2, True, True), amem=250.0).act_loads == 400
    assert _run(g, Blocking(True, 1, True, True), amem=250.0).act_loads == 800
    assert _run(g, Blocking(True, 2, True, True), amem=1e9).act_loads == 400  # all resident: once


@pytest.mark.parametrize(
    ("tiles", "capacity", "limit", "expected"),
    [
        ([10.0] * 7, 35.0, 7, 3),  # 3 tiles fit; 7 tiles in 3 blocks of at most 3
        ([10.0] * 7, 5.0, 7, 0),  # one tile does not fit
        ([10.0] * 7, 1e9, 2, 2),  # another capacity limits the block
        ([10.0, 30.0, 10.0, 10.0], 40.0, 4, 2),  # uneven tiles: the largest block must fit
    ],
)
def test_largest_block(tiles, capacity, limit, expected):
    assert largest_block(torch.tensor(tiles), capacity, limit) == expected


@settings(max_examples=60, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    tiles=st.tuples(st.floats(1.0, 4096.0), st.floats(1.0, 4096.0), st.floats(0.0, 1024.0)),
    compute=st.floats(0.5, 40.0),
    sub_steps=st.integers(1, 4),
    memory=st.tuples(st.floats(100.0, 1e5), st.floats(100.0, 1e5)),
)
def test_no_blocking_takes_less_time_than_its_compute_or_its_traffic(shape, tiles, compute, sub_steps, memory):
    g = _grid(
        [[compute * (1 + (i + t) % 3) for t in range(shape[1])] for i in range(shape[0])],
        weight_tile=tiles[0],
        act_tile=tiles[1],
        out=tiles[2],
        sub_steps=sub_steps,
    )
    caps = dict(wmem_bits=memory[0], amem_bits=memory[1])
    for blocking in blockings(g, **caps):
        tl = timeline(g, blocking, **caps, dram_bits_per_cycle=256)
        assert tl.cycles >= max(tl.cycles_compute, tl.cycles_memory) - 1  # each is rounded
