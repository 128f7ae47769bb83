"""The tile scheduler: DRAM traffic per loop order and compute/memory overlap, by hand."""

from __future__ import annotations

import torch

from panacea.hw.schedule import run_tiles


def _run(
    compute, *, weight_tile=256.0, act_tile=512.0, wmem=1e9, amem=1e9, out=256.0, orders=(True, False), sub_steps=1
):
    compute = torch.tensor(compute, dtype=torch.float64)
    n_i, n_t = compute.shape
    w = torch.full((n_i,), weight_tile)
    a = torch.full((n_t,), act_tile)
    return run_tiles(
        compute,
        weight_need=w[:, None].expand_as(compute),
        weight_tile_bits=w,
        act_need=a[None, :].expand_as(compute),
        act_tile_bits=a,
        out_bits=torch.full_like(compute, out),
        wmem_bits=wmem,
        amem_bits=amem,
        dram_bits_per_cycle=256,
        orders=orders,
        sub_steps=sub_steps,
    )


def test_compute_bound_steps_hide_their_transfers():
    tl = _run([[10.0, 10.0]])
    # loads: weights once (256) + both activation tiles (2 x 512); first load 768 bits = 3 cycles,
    # two steps of 10 (the second tile's 512 bits and the first drain hide under the first step),
    # the last drain 1 cycle.
    assert (tl.dram_read, tl.dram_written) == (1280, 512)
    assert tl.cycles_compute == 20
    assert tl.cycles_memory == 7
    assert tl.cycles == 3 + 10 + 10 + 1


def test_memory_bound_steps_wait_for_dram():
    tl = _run([[1.0, 1.0]])
    # step 1 waits for the second activation tile (2 cycles), step 2 for the first drain (1)
    assert tl.cycles == 3 + 2 + 1 + 1


def test_tiles_that_do_not_fit_are_reloaded_and_the_cheaper_order_wins():
    # Two weight tiles x three activation tiles. The activations (3 x 512) do not fit AMEM (1000):
    # weights outer reloads them per weight tile: 2 x 256 + 2 x 1536 = 3584 bits;
    # activations outer keeps each activation tile, weights do fit: 512 + 1536 = 2048 bits.
    tl = _run([[5.0] * 3] * 2, amem=1000.0)
    assert not tl.weights_outer
    assert tl.dram_read == 2048 and tl.act_loads == 1536 and tl.weight_loads == 512
    forced = _run([[5.0] * 3] * 2, amem=1000.0, orders=(True,))
    assert forced.weights_outer and forced.dram_read == 3584
    assert forced.weight_loaded.tolist() == [256.0, 256.0]


def test_a_weight_tile_larger_than_wmem_streams_every_step():
    tl = _run([[5.0] * 3], wmem=100.0, orders=(True,))
    assert tl.weight_loads == 3 * 256


def test_chunked_steps_overlap_their_own_loads():
    # one step in 4 chunks: only the first chunk's load (768 / 4 bits) is exposed
    tl = _run([[40.0]], act_tile=768.0, sub_steps=4)
    assert tl.cycles == round(1024 / 256 / 4 + 40 + 1)
    whole = _run([[40.0]], act_tile=768.0)
    assert whole.cycles == round(1024 / 256 + 40 + 1)
