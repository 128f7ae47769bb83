"""A tiled GEMM on an accelerator with DRAM and on-chip SRAM: the loop nest above the core, its
traffic and its overlapped time.

Every design runs a GEMM as a :class:`Grid` of ``I x T`` steps: ``I`` weight tiles (groups of output
channels: array folds, m-tiles) by ``T`` activation tiles, each step with its compute cycles and the
part of each tile it uses (all of it, except for grouped GEMMs and weight-stationary K folds). How
the steps are visited is a :class:`Blocking`, the part of a mapping (:mod:`panacea.hw.mapping`)
above the core, as Timeloop and ZigZag model it:

- the **outer** operand (weights or activations) is cut into blocks of ``block`` consecutive tiles;
  a *resident* block is loaded from DRAM once and stays in its SRAM (WMEM / AMEM) while every tile
  of the other operand passes it (``block x tile`` bits, twice that when *double-buffered*);
  a *streamed* outer operand is loaded by every step for what the step uses;
- the **inner** operand's tile ``t`` is loaded once per outer block and reused by the block's
  ``block`` steps (it needs room for two tiles: the one in use and the next), or once for the whole
  GEMM if all of it fits its SRAM, or, if two tiles do not fit, by every step for what it uses.

Loop order (outer to inner): outer blocks, inner tiles, the block's outer tiles. ``block = 1``
with resident tiles that fit is the fixed mapping (one array fold, or one m-tile, stays while the
other operand streams past).

Time. Outputs are written to DRAM once. A step's inner (and streamed) loads come in while the
previous step computes and the step before drains its outputs (one-step prefetch): a step takes
the longer of its compute and those transfers. A step whose operands stream in ``sub_steps`` K
chunks (the bit-slice cores) pipelines at chunk granularity. A resident outer block's load
overlaps as its buffering allows:

- double-buffered: during the whole previous block (its reuse period), in the DRAM time the
  block's own transfers leave free: the block takes the longer of its steps and all its transfers;
- single-buffered: only after the previous block is done with the memory: its load is exposed.

The first block's load and the last step's drain are not hidden. On-chip SRAM bandwidth is taken as
sufficient (its energy is counted, its latency not).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import torch

from panacea.hw.tiles import block_sum

F64 = torch.float64
Inner = Literal["all", "block", "step"]


@dataclass(frozen=True)
class Grid:
    """A GEMM as ``I x T`` steps; sizes in bits of the stored format, float64.

    ``compute[I, T]``: cycles of step ``(i, t)``; ``weight_tile[I]``: weight tile ``i``;
    ``weight_need[I, T]``: what step ``(i, t)`` uses of it; ``act_part[G, T]``: activation tile
    ``t`` of group ``g``; ``fold_groups[I, G]``: 1 where weight tile ``i`` uses group ``g``;
    ``out_bits[I, T]``: outputs written back. ``orders``: the loop orders the core allows
    (``True``: weights outer); ``sub_steps``: K chunks each step streams in; ``block_limit``: the
    most weight tiles an outer block may hold for another reason than WMEM (a weight-stationary
    array's partial sums in OMEM).
    """

    compute: torch.Tensor
    weight_tile: torch.Tensor
    weight_need: torch.Tensor
    act_part: torch.Tensor
    fold_groups: torch.Tensor
    out_bits: torch.Tensor
    orders: tuple[bool, ...] = (True, False)
    sub_steps: int = 1
    block_limit: int | None = None

    @cached_property
    def act_need(self) -> torch.Tensor:
        """``[I, T]``: the activations step ``(i, t)`` uses (its weight tile's groups)."""
        return self.fold_groups @ self.act_part

    @cached_property
    def act_tile(self) -> torch.Tensor:
        """``[T]``: activation tile ``t``, every group."""
        return self.act_part.sum(0)


def grid(
    compute: torch.Tensor,
    *,
    weight_tile: torch.Tensor,
    weight_need: torch.Tensor | None = None,
    act_per_group: torch.Tensor,
    tile_group: torch.Tensor | None = None,
    groups: int = 1,
    out_bits: torch.Tensor,
    **options,
) -> Grid:
    """A :class:`Grid` whose weight tile ``i`` lies in one group (``tile_group[I]``, default all
    in group 0) and whose activation tile ``t`` has ``act_per_group[T]`` bits in every group;
    ``weight_need`` defaults to the whole tile at every step."""
    compute = compute.to(F64)
    n_i = compute.shape[0]
    tile_group = torch.zeros(n_i, dtype=torch.long) if tile_group is None else tile_group
    member = torch.zeros(n_i, groups, dtype=F64)
    member[torch.arange(n_i), tile_group] = 1.0
    weight_tile = weight_tile.to(F64)
    return Grid(
        compute=compute,
        weight_tile=weight_tile,
        weight_need=weight_tile[:, None].expand_as(compute) if weight_need is None else weight_need.to(F64),
        act_part=act_per_group.to(F64)[None, :].expand(groups, -1),
        fold_groups=member,
        out_bits=out_bits.to(F64),
        **options,
    )


@dataclass(frozen=True)
class Blocking:
    """The loop nest above the core (module docs): which operand is outer, how many of its tiles a
    block holds, whether the block stays resident in its SRAM and whether two blocks fit."""

    weights_outer: bool
    block: int
    resident: bool
    double_buffer: bool

    def describe(self) -> str:
        outer = "weights" if self.weights_outer else "activations"
        if not self.resident:
            return f"{outer} outer, streamed, {self.block} tile{'s' * (self.block > 1)}/block"
        kind = "double-buffered" if self.double_buffer else "single-buffered"
        return f"{outer} outer, {self.block} tile{'s' * (self.block > 1)}/block resident {kind}"


@dataclass(frozen=True)
class Timeline:
    cycles_compute: int
    cycles_memory: int
    cycles: int
    dram_read: int
    dram_written: int
    weight_loads: int  # DRAM bits of weights loaded (WMEM writes)
    act_loads: int  # DRAM bits of activations loaded (AMEM writes)
    weight_loaded: torch.Tensor  # [I]: DRAM bits loaded of each weight tile (float64)
    blocking: Blocking
    inner: Inner  # how the inner operand was loaded: once ("all"), per outer block, per step

    @property
    def weights_outer(self) -> bool:
        return self.blocking.weights_outer


def _outer(g: Grid, weights_outer: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The outer operand's tiles and per-step need, oriented ``[outer, inner]``."""
    return (g.weight_tile, g.weight_need) if weights_outer else (g.act_tile, g.act_need.t())


def _capacity(weights_outer: bool, wmem_bits: float, amem_bits: float) -> tuple[float, float]:
    """(outer operand's SRAM, inner operand's SRAM)."""
    return (wmem_bits, amem_bits) if weights_outer else (amem_bits, wmem_bits)


def largest_block(tile: torch.Tensor, capacity: float, limit: int) -> int:
    """The most consecutive tiles (at most ``limit``, blocks balanced) whose every block fits
    ``capacity``; 0 if one tile does not."""
    tile = tile.to(F64)
    if not len(tile) or float(tile.max()) > capacity:
        return 0
    b = min(limit, len(tile), max(1, math.floor(capacity / max(float(tile.mean()), 1e-9))))
    while b > 1:
        even = balanced(len(tile), b)
        if float(block_sum(tile, even).max()) <= capacity:
            return even
        b = min(b - 1, math.floor(b * 0.9))
    return 1


def balanced(count: int, block: int) -> int:
    """The smallest block that cuts ``count`` tiles into as many blocks as ``block`` does."""
    return math.ceil(count / math.ceil(count / max(1, min(block, count))))


def blockings(g: Grid, *, wmem_bits: float, amem_bits: float) -> list[Blocking]:
    """The blockings worth trying (pruned as mappers prune): per allowed order, the outer operand
    streamed (one tile or the longest block per step) or resident, single- or double-buffered, in
    blocks of one tile, of the largest size that fits, and of the sizes that cut the tiles into two
    to four even blocks (weights outer in a grouped GEMM: also one to four whole groups and the
    divisors of a group). A larger block re-loads the inner operand less often, but one that leaves
    a short last block or straddles a group boundary can move more or overlap worse than a smaller
    one, so sizes below the largest are tried too. On 35 (design, GEMM) points, grouped and odd
    shapes among them, this space's best is within 0.1% of every block size's best in energy,
    0.5% in EDP and 1.2% in latency (``benchmarks/bench_blockings.py``)."""
    out: dict[Blocking, None] = {}
    for outer in g.orders:
        tile, _ = _outer(g, outer)
        count = len(tile)
        limit = g.block_limit if outer and g.block_limit is not None else count
        capacity, _ = _capacity(outer, wmem_bits, amem_bits)
        out[Blocking(outer, 1, False, False)] = None
        out[Blocking(outer, balanced(count, limit), False, False)] = None
        for double in (True, False):
            largest = largest_block(tile, capacity / (2 if double else 1), limit)
            if not largest:
                continue
            for b in _block_sizes(g, outer, largest):
                blocking = Blocking(outer, b, True, double)
                if fits(g, blocking, wmem_bits=wmem_bits, amem_bits=amem_bits):
                    out[blocking] = None
    return list(out)


def _block_sizes(g: Grid, weights_outer: bool, largest: int) -> list[int]:
    """Resident block sizes up to ``largest`` (:func:`blockings`), each balanced over the tiles."""
    count = len(_outer(g, weights_outer)[0])
    sizes = {1, largest} | {math.ceil(count / n) for n in range(2, 5)}
    if weights_outer and g.fold_groups.shape[1] > 1:  # whole groups, or even parts of one
        per_group = int(g.fold_groups.sum(0).max())
        sizes |= {per_group * n for n in range(1, 5)} | {d for d in range(1, per_group) if per_group % d == 0}
    return sorted({balanced(count, b) for b in sizes if b <= largest})


def fits(g: Grid, blocking: Blocking, *, wmem_bits: float, amem_bits: float) -> bool:
    """Whether ``blocking``'s resident blocks fit their SRAM (twice when double-buffered) and
    respect the grid's block limit."""
    tile, _ = _outer(g, blocking.weights_outer)
    if blocking.weights_outer and g.block_limit is not None and blocking.block > g.block_limit:
        return False
    if not blocking.resident:
        return True
    capacity, _ = _capacity(blocking.weights_outer, wmem_bits, amem_bits)
    return float(block_sum(tile, blocking.block).max()) * (2 if blocking.double_buffer else 1) <= capacity


def fixed_blocking(g: Grid, *, wmem_bits: float, amem_bits: float) -> list[Blocking]:
    """The fixed mapping's blocking per allowed order: one tile per block, resident if it fits
    (double-buffered if two fit), else streamed. The caller keeps the order that moves fewer bits."""
    out = []
    for outer in g.orders:
        tile, _ = _outer(g, outer)
        capacity, _ = _capacity(outer, wmem_bits, amem_bits)
        fits = float(tile.max()) <= capacity
        out.append(Blocking(outer, 1, fits, fits and float(tile.max()) * 2 <= capacity))
    return out


def timeline(g: Grid, blocking: Blocking, *, wmem_bits: float, amem_bits: float, dram_bits_per_cycle: int) -> Timeline:
    """Traffic and time of ``g`` visited as ``blocking`` says (module docs)."""
    outer, b = blocking.weights_outer, blocking.block
    outer_tile, outer_need = _outer(g, outer)
    compute, out = (g.compute, g.out_bits) if outer else (g.compute.t(), g.out_bits.t())
    _, inner_capacity = _capacity(outer, wmem_bits, amem_bits)
    n_blocks = math.ceil(compute.shape[0] / b)
    if outer:  # inner activations: a block loads the parts of the groups its weight tiles use
        used = (block_sum(g.fold_groups, b) > 0).to(F64)  # [J, G]
        seen = torch.cat([used.new_zeros(1, used.shape[1]), used.cummax(0).values[:-1]])
        per_block, first_use = used @ g.act_part, (used - seen).clamp(min=0) @ g.act_part
        inner_need, inner_total = g.act_need, float(g.act_part.sum())
    else:  # inner weights: every block passes every weight tile
        per_block = g.weight_tile[None, :].expand(n_blocks, -1)
        first_use = torch.cat([per_block[:1], torch.zeros_like(per_block[1:])])
        inner_need, inner_total = g.weight_need.t(), float(g.weight_tile.sum())
    inner: Inner
    if inner_total <= inner_capacity:
        inner, inner_loads = "all", first_use
    elif 2 * float(per_block.max()) <= inner_capacity:
        inner, inner_loads = "block", per_block
    else:
        inner, inner_loads = "step", block_sum(inner_need, b)
    if blocking.resident:
        block_loads, outer_loads = block_sum(outer_tile.to(F64), b), torch.zeros_like(inner_loads)
    else:
        block_loads, outer_loads = torch.zeros(n_blocks, dtype=F64), block_sum(outer_need, b)
    c = block_sum(compute, b).reshape(-1)
    ld = (inner_loads + outer_loads).reshape(-1)
    wr = block_sum(out, b).reshape(-1)
    bw, n = float(dram_bits_per_cycle), g.sub_steps
    # Chunk i of step j computes while chunk i + 1 loads (the step's own, or the next step's first
    # chunk after its last) and the previous step's outputs drain: (n - 1) chunks overlap their own
    # step's loads, the last one the next step's; n = 1 is plain double buffering of whole steps.
    nxt = torch.cat([ld[1:], ld.new_zeros(1)])
    prev = torch.cat([wr.new_zeros(1), wr[:-1]])
    own = (n - 1) * torch.maximum(c, (ld + prev) / bw) / n
    steps = own + torch.maximum(c, (nxt + prev) / bw) / n
    per_block_time = steps.reshape(n_blocks, -1).sum(1)
    if blocking.resident:
        following = torch.cat([block_loads[1:], block_loads.new_zeros(1)])
        if blocking.double_buffer:  # loads over the previous block's whole reuse period
            transfers = (nxt + prev).reshape(n_blocks, -1).sum(1)
            transfers[0] += float(ld[0]) * (n - 1) / n  # the first step's chunks after its first
            per_block_time = torch.maximum(per_block_time, (transfers + following) / bw)
        else:  # the memory is busy until the block is done: the next load is exposed
            per_block_time = per_block_time + following / bw
    # Exposed: the whole first block, the first step's first chunk, the last step's drain.
    exposed = float(block_loads[0]) + float(ld[0]) / n + float(wr[-1])
    total = exposed / bw + float(per_block_time.sum())
    read, written = float(ld.sum() + block_loads.sum()), float(wr.sum())
    outer_total = float(outer_loads.sum() + block_loads.sum())
    inner_sum = float(inner_loads.sum())
    weight_loads, act_loads = (outer_total, inner_sum) if outer else (inner_sum, outer_total)
    return Timeline(
        cycles_compute=round(float(c.sum())),
        cycles_memory=round((read + written) / bw),
        cycles=round(total),
        dram_read=round(read),
        dram_written=round(written),
        weight_loads=round(weight_loads),
        act_loads=round(act_loads),
        weight_loaded=_weight_loaded(g, blocking, inner, n_blocks),
        blocking=blocking,
        inner=inner,
    )


def _weight_loaded(g: Grid, blocking: Blocking, inner: Inner, n_blocks: int) -> torch.Tensor:
    """DRAM bits loaded of each weight tile ``[I]``."""
    streamed = g.weight_need.sum(1)
    if blocking.weights_outer:
        return g.weight_tile.clone() if blocking.resident else streamed
    return {"all": g.weight_tile.clone(), "block": g.weight_tile * n_blocks}.get(inner, streamed)
