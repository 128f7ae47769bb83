"""A tiled GEMM on an accelerator with DRAM and on-chip SRAM: traffic and overlapped time.

Every design here runs a GEMM as a grid of ``I x T`` steps: ``I`` weight tiles (groups of output
channels) by ``T`` activation tiles, each step with its compute cycles and the part of each tile it
uses (all of it, except for grouped GEMMs and weight-stationary K folds). Tiles are visited in the
allowed loop order that moves fewer bits from DRAM:

- weights outer: a weight tile that fits WMEM is loaded once and reused by every activation tile,
  else each step loads what it uses; the activations are loaded once if all of them fit AMEM, else
  each step loads what it uses;
- activations outer: the converse.

Outputs are written to DRAM once. The next step's operands load while the current step computes
and the previous step's outputs drain (double buffering), so a step takes the longer of its compute
and its DRAM transfer; the first load and the last drain are not hidden. A step whose operands
stream in ``sub_steps`` K chunks (the bit-slice cores) pipelines at chunk granularity: its compute
and loads are split evenly over the chunks, its outputs leave after the last one. On-chip SRAM bandwidth is
taken as sufficient (its energy is counted, its latency not).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Timeline:
    cycles_compute: int
    cycles_memory: int
    cycles: int
    dram_read: int
    dram_written: int
    weight_loads: int  # DRAM bits of weights loaded (WMEM writes)
    act_loads: int  # DRAM bits of activations loaded (AMEM writes)
    weights_outer: bool
    weight_loaded: torch.Tensor  # [I]: DRAM bits loaded of each weight tile (float64)


def _loads(need: torch.Tensor, tile: torch.Tensor, first: torch.Tensor, capacity: float, *, outer: bool):
    """DRAM loads of one operand per step: for the outer operand, a tile that fits is loaded once
    (at its first step), else each step loads what it uses; for the inner one, everything is loaded
    once if it all fits, else each step loads what it uses."""
    fit = tile <= capacity if outer else torch.full_like(tile, float(tile.sum()) <= capacity, dtype=torch.bool)
    return torch.where(fit, tile * first, need)


def run_tiles(
    compute: torch.Tensor,
    *,
    weight_need: torch.Tensor,
    weight_tile_bits: torch.Tensor,
    act_need: torch.Tensor,
    act_tile_bits: torch.Tensor,
    out_bits: torch.Tensor,
    wmem_bits: float,
    amem_bits: float,
    dram_bits_per_cycle: int,
    orders: tuple[bool, ...] = (True, False),
    sub_steps: int = 1,
) -> Timeline:
    """Schedule ``compute[I, T]`` cycles; sizes in bits of the stored format.

    ``weight_tile_bits[I]``, ``act_tile_bits[T]``: whole tiles; ``weight_need[I, T]``,
    ``act_need[I, T]``: what step ``(i, t)`` uses of them; ``out_bits[I, T]``: outputs written
    back. ``orders``: the loop orders allowed (``True``: weights outer); ``sub_steps``: K chunks
    each step streams in.
    """
    f64 = torch.float64
    compute, out_bits = compute.to(f64), out_bits.to(f64)
    w_need, a_need = weight_need.to(f64), act_need.to(f64)
    w_tile, a_tile = weight_tile_bits.to(f64)[:, None], act_tile_bits.to(f64)[None, :]
    n_i, n_t = compute.shape
    first_t = torch.zeros(n_i, n_t, dtype=torch.bool)
    first_t[:, 0] = True
    first_i = torch.zeros(n_i, n_t, dtype=torch.bool)
    first_i[0] = True
    plans = {
        outer: (
            _loads(w_need, w_tile, first_t, wmem_bits, outer=outer),
            _loads(a_need, a_tile, first_i, amem_bits, outer=not outer),
        )
        for outer in orders
    }
    weights_outer = min(orders, key=lambda o: float(plans[o][0].sum() + plans[o][1].sum()))
    w_loads, a_loads = plans[weights_outer]
    grid = (compute, w_loads + a_loads, out_bits)
    if not weights_outer:  # activation tiles outer: visit the grid column by column
        grid = tuple(t.t() for t in grid)
    c, ld, wr = (t.reshape(-1) for t in grid)
    bw, n = float(dram_bits_per_cycle), sub_steps
    # Chunk i of step j computes while chunk i + 1 loads (the step's own, or the next step's first
    # chunk after its last) and the previous step's outputs drain: (n - 1) chunks overlap their own
    # step's loads, the last one the next step's; n = 1 is plain double buffering of whole steps.
    nxt = torch.cat([ld[1:], ld.new_zeros(1)])
    prev = torch.cat([wr.new_zeros(1), wr[:-1]])
    own = (n - 1) * torch.maximum(c, (ld + prev) / bw) / n
    steps = own + torch.maximum(c, (nxt + prev) / bw) / n
    total = float(ld[0]) / bw / n + float(steps.sum()) + float(wr[-1]) / bw
    read, written = float(ld.sum()), float(wr.sum())
    return Timeline(
        cycles_compute=round(float(c.sum())),
        cycles_memory=round((read + written) / bw),
        cycles=round(total),
        dram_read=round(read),
        dram_written=round(written),
        weight_loads=round(float(w_loads.sum())),
        act_loads=round(float(a_loads.sum())),
        weights_outer=weights_outer,
        weight_loaded=w_loads.sum(1),
    )
