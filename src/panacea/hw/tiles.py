"""Bit-slice work and stored sizes per tile, from the real slice-vector masks (Panacea and Sibia).

The weights are cut into sub-tiles of ``sub_tile_rows`` output channels of one group (one sub-tile
per PEA at a time), the activations into tiles of ``tile_tokens`` tokens, and K into chunks of
``tile_k`` (a PEA's WBUF holds one chunk of its sub-tile, two under DTP). For every (sub-tile ``u``,
tile ``t``, chunk ``c``) this module counts the outer products of each slice pair at vector
granularity, since a partial vector still takes a whole operator cycle:

    HH[u, t, c] = sum_k WS[u, k] XS[t, k]       (present top-slice vectors meeting at the same k)
    HL[u, t, c] = l_x nx[t] sum_k WS[u, k]      LH[u, t, c] = l_w nw[u] sum_k XS[t, k]
    LL[u, t, c] = l_w l_x nw[u] nx[t] K_c

over the k of chunk ``c`` of the sub-tile's group, with ``WS``/``XS`` the present top-slice
vectors of the sub-tile / tile at k, ``nw``/``nx`` their vectors along the rows and ``l_w``/``l_x``
the lower slices. One batched GEMM of the block-summed masks gives every ``HH``. The compensator
(eq. 6) adds, for every stored activation vector, the weight vectors at its k: ``HH + LH`` vector
additions.

The same masks weighted by real lanes give the element-level operation counts of the whole GEMM
(:class:`LaneCounts`): an independent evaluation of the rules of :mod:`panacea.gemm.counts`, which
must agree with the GEMM's own counts.

Stored sizes: in Panacea's format a top slice is RLE'd along K per vector row (``index_bits`` per
index entry, 4 bits per stored real lane) and lower slices are dense; uncompressed, every slice is
dense. Each (vector row, group, K chunk) is its own RLE row, so a chunk can be fetched on its own
and a grouped GEMM's sub-tile fetches only its group; this costs a few more filler entries than one
stream per row (the GEMM counts' rule), none when K fits one chunk or runs are short.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import torch

from panacea.core.formats import SLICE_BITS, weight_slice_count
from panacea.core.rle import rle_row_entries
from panacea.core.slicing import vector_lanes
from panacea.core.tensors import count_true

if TYPE_CHECKING:
    from panacea.hw.spec import BitSliceCore
    from panacea.workload import Workload


@dataclass(frozen=True)
class LaneCounts:
    """Element-level 4b x 4b products of each slice pair and compensator additions (whole GEMM)."""

    hh: int
    hl: int
    lh: int
    ll: int
    compensation_adds: int

    @property
    def mults(self) -> int:
        return self.hh + self.hl + self.lh + self.ll


@dataclass(frozen=True)
class SliceTiles:
    """Vector outer products of each slice pair and compensator additions per (sub-tile, tile,
    chunk), float32 ``[U, T, C]`` (exact; sum them with ``dtype=torch.float64``); stored bits and
    index entries per (sub-tile, chunk) ``[U, C]`` and per (tile, group) ``[T, G]``; each sub-tile's
    group, real rows / tokens per sub-tile / tile. Sub-tiles are numbered group by group."""

    hh: torch.Tensor
    hl: torch.Tensor
    lh: torch.Tensor
    ll: torch.Tensor
    compensate: torch.Tensor
    weight_bits: torch.Tensor
    weight_entries: torch.Tensor
    group: torch.Tensor
    act_bits: torch.Tensor
    act_entries: torch.Tensor
    largest_act_chunk: float  # stored bits of the largest (tile, group, chunk) of activations
    rows: torch.Tensor
    tokens: torch.Tensor
    lanes: LaneCounts

    @cached_property
    def dynamic(self) -> torch.Tensor:
        """Outer products with a top slice (Panacea's DWO work)."""
        return self.hh + self.hl + self.lh

    @cached_property
    def total(self) -> torch.Tensor:
        return self.dynamic + self.ll


def block_sum(t: torch.Tensor, block: int, dim: int = 0) -> torch.Tensor:
    """Sum ``t`` over consecutive blocks of ``block`` entries along ``dim`` (the last one partial)."""
    t = t.movedim(dim, 0)
    pad = (-t.shape[0]) % block
    if pad:
        t = torch.cat([t, t.new_zeros((pad, *t.shape[1:]))])
    return t.reshape(-1, block, *t.shape[1:]).sum(1).movedim(0, dim)


@dataclass(frozen=True)
class _Operand:
    """One operand in vector rows ``R``, groups ``G``, K chunks ``C`` of ``Kc``: its stored-vector
    mask (bool ``[R, G, C, Kc]``, zero-padded in the last chunk; None without a top slice), whether
    its compressed vectors are skipped, real lanes per vector row, stored bits and RLE index entries
    per (row, group, chunk), and the real k of each chunk (bool ``[C, Kc]``)."""

    mask: torch.Tensor | None
    skip: bool
    lanes: torch.Tensor
    bits: torch.Tensor
    entries: torch.Tensor
    valid: torch.Tensor
    low: int  # lower slices

    def blocks(self, block: int) -> torch.Tensor:
        """Present top-slice vectors of each block of ``block`` vector rows, float32 ``[B, G, C, Kc]``."""
        rows, (g, c, kc) = len(self.lanes), self.entries.shape[1:] + self.valid.shape[1:]
        count = math.ceil(rows / block)
        if self.mask is None:
            return torch.zeros((count, g, c, kc))
        if not self.skip:  # every real top-slice vector takes part
            per_block = block_sum(torch.ones(rows), block)
            return per_block[:, None, None, None] * self.valid.float().expand(g, c, kc)
        if block == 1:
            return self.mask.float()
        mask = self.mask.view(torch.uint8)
        if rows % block:
            mask = torch.cat([mask, mask.new_zeros((count * block - rows, g, c, kc))])
        # a block of at most 255 rows counts in uint8 without overflow (much faster than int32)
        counts = torch.uint8 if block <= 255 else torch.int32
        return mask.reshape(count, block, g, c, kc).sum(1, dtype=counts).float()

    def lanes_per_k(self) -> torch.Tensor:
        """Present top-slice lanes at each k, float64 ``[G, C, Kc]``."""
        g, (c, kc) = self.entries.shape[1], self.valid.shape
        if self.mask is None:
            return torch.zeros((g, c, kc), dtype=torch.float64)
        if not self.skip:
            return float(self.lanes.sum()) * self.valid.double().expand(g, c, kc)
        v = float(self.lanes[0])
        return v * self.stored_per_k() - (v - float(self.lanes[-1])) * self.mask[-1].double()

    def stored_per_k(self) -> torch.Tensor:
        """Stored top-slice vectors at each k, float64 ``[G, C, Kc]``."""
        if self.mask is None:
            return torch.zeros(self.entries.shape[1:] + self.valid.shape[1:], dtype=torch.float64)
        return count_true(self.mask, 0)


def _operand(
    stored: torch.Tensor,
    rows: int,
    groups: int,
    k: int,
    tile_k: int,
    vector: int,
    index_bits: int,
    *,
    slices: int,
    skip: bool,
    compressed: bool,
) -> _Operand:
    """``stored``: bool ``[ceil(rows / v), groups * k]``, or ``[0, groups * k]`` without a top slice."""
    lanes = vector_lanes(rows, vector).to(torch.float64)
    r, chunks = len(lanes), math.ceil(k / tile_k)
    k_len = vector_lanes(k, tile_k).to(torch.float64)  # [C] real k of each chunk
    valid = (torch.arange(chunks * tile_k) < k).view(chunks, tile_k)
    has_top = stored.shape[0] > 0
    low = slices - has_top
    mask = None
    entries = torch.zeros((r, groups, chunks), dtype=torch.float64)
    if has_top:
        mask = torch.zeros((r, groups, chunks * tile_k), dtype=torch.bool)
        mask[..., :k] = stored.reshape(r, groups, k)
        mask = mask.view(r, groups, chunks, tile_k)
        if skip:
            entries = rle_row_entries(mask.view(-1, tile_k), index_bits).view(r, groups, chunks).double()
    row_lanes = lanes[:, None, None]
    if compressed and has_top:
        stored_vectors = count_true(mask, 3)
        bits = entries * index_bits + SLICE_BITS * (stored_vectors + low * k_len) * row_lanes
    else:
        bits = (SLICE_BITS * slices * k_len * row_lanes).expand(r, groups, chunks)
    return _Operand(mask, skip, lanes, bits, entries, valid, low)


@dataclass(frozen=True)
class SliceFormat:
    """How a design reads a workload's operands: 4-bit slices of an activation, whether each
    operand's compressed top-slice vectors are skipped (else all its top slices take part; Panacea
    skips both, Sibia one), whether the compensator runs (``r != 0``) and whether the operands are
    stored in Panacea's RLE format (else dense)."""

    x_slices: int
    w_skip: bool
    x_skip: bool
    compensate: bool
    compressed: bool


def _operands(w: Workload, core: BitSliceCore, fmt: SliceFormat, memo: dict) -> tuple[_Operand, _Operand]:
    """The weights and activations of ``w`` in K chunks of ``core.tile_k``, from ``memo`` when it
    has them (a mapping search tries several tile shapes with the same ``tile_k``)."""
    opts = dict(tile_k=core.tile_k, vector=core.vector, index_bits=core.index_bits, compressed=fmt.compressed)
    operands = (
        ("weights", w.weight_stored, w.m, weight_slice_count(w.w_bits), fmt.w_skip),
        ("activations", w.act_stored, w.n, fmt.x_slices, fmt.x_skip),
    )
    out = []
    for name, stored, rows, slices, skip in operands:
        key = (name, slices, skip, *opts.values())
        if key not in memo:
            memo[key] = _operand(stored, rows, w.groups, w.k, slices=slices, skip=skip, **opts)
        out.append(memo[key])
    return out[0], out[1]


def _pair_products(
    wo: _Operand, xo: _Operand, wb: int, xb: int, k_len: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The present top-slice vectors of each sub-tile of ``wb`` and tile of ``xb`` vector rows,
    ``ws [S, G, C, Kc]`` / ``xs [T, G, C, Kc]``, and the vector outer products HH, HL, LH, LL of
    their slice pairs ``[G, C, S, T]`` (``k_len``: real k per chunk)."""
    ws, xs = wo.blocks(wb), xo.blocks(xb)
    (n_s, g, chunks, tile_k), n_t = ws.shape, xs.shape[0]
    nw = block_sum(torch.ones(len(wo.lanes)), wb)  # [S] vector rows per sub-tile
    nx = block_sum(torch.ones(len(xo.lanes)), xb)  # [T]
    # one batched GEMM over (group, chunk)
    hh = torch.bmm(
        ws.permute(1, 2, 0, 3).reshape(g * chunks, n_s, tile_k), xs.permute(1, 2, 3, 0).reshape(g * chunks, tile_k, n_t)
    ).reshape(g, chunks, n_s, n_t)
    # float32 is exact per chunk (the spec keeps a chunk's counts below 2^24); totals sum in float64
    sum_w = ws.sum(3).permute(1, 2, 0)[..., None]  # [G, C, S, 1]
    sum_x = xs.sum(3).permute(1, 2, 0)[:, :, None, :]  # [G, C, 1, T]
    hl = xo.low * sum_w * nx
    lh = wo.low * nw[:, None] * sum_x
    ll = (wo.low * xo.low) * k_len[:, None, None] * nw[:, None] * nx
    return ws, xs, hh, hl, lh, ll


def slice_tiles(w: Workload, core: BitSliceCore, fmt: SliceFormat, operands: dict | None = None) -> SliceTiles:
    """Work and sizes of the (grouped) bit-slice GEMM of ``w`` read as ``fmt`` says, tiled as this
    module describes with the vectors and tile extents of ``core`` (``vector``, ``index_bits``,
    ``sub_tile_rows``, ``tile_tokens``, ``tile_k``). ``operands``: a dict the caller keeps for one
    workload, in which each operand's masks and stored sizes per K chunk are kept for the next call.
    """
    wo, xo = _operands(w, core, fmt, {} if operands is None else operands)
    g = w.groups
    wb, xb = core.sub_tile_rows // core.vector, core.tile_tokens // core.vector  # vector rows per sub-tile / tile
    ws, xs, hh, hl, lh, ll = _pair_products(wo, xo, wb, xb, vector_lanes(w.k, core.tile_k).float())
    n_s, n_t, chunks = ws.shape[0], xs.shape[0], ws.shape[2]

    def per_unit(t: torch.Tensor) -> torch.Tensor:  # [G, C, S, T] -> [U, T, C], group by group
        return t.expand_as(hh).permute(0, 2, 3, 1).reshape(g * n_s, n_t, chunks)

    def per_subtile(t: torch.Tensor) -> torch.Tensor:  # [R, G, C] -> [U, C]
        return block_sum(t, wb).transpose(0, 1).reshape(g * n_s, chunks)

    comp = per_unit(hh + lh) if fmt.compensate else torch.zeros(g * n_s, n_t, chunks)
    act_chunks = block_sum(xo.bits, xb)  # [T, G, C] stored bits of each tile's chunks
    return SliceTiles(
        hh=per_unit(hh),
        hl=per_unit(hl),
        lh=per_unit(lh),
        ll=per_unit(ll),
        compensate=comp,
        weight_bits=per_subtile(wo.bits),
        weight_entries=per_subtile(wo.entries),
        group=torch.arange(g).repeat_interleave(n_s),
        act_bits=act_chunks.sum(2),
        act_entries=block_sum(xo.entries.sum(2), xb),
        largest_act_chunk=float(act_chunks.max()),
        rows=block_sum(wo.lanes, wb).repeat(g),
        tokens=block_sum(xo.lanes, xb),
        lanes=_lane_counts(wo, xo, w.m, w.n, w.k, g, fmt.compensate),
    )


def _lane_counts(wo: _Operand, xo: _Operand, m: int, n: int, k: int, g: int, compensate: bool) -> LaneCounts:
    wh, xh = wo.lanes_per_k(), xo.lanes_per_k()  # [G, C, Kc] present lanes at each k
    # the padded k of the last chunk hold no stored activation vector, so they add nothing
    comp = int((xo.stored_per_k() * (wh + wo.low * m)).sum()) if compensate else 0
    return LaneCounts(
        hh=int((wh * xh).sum()),
        hl=xo.low * n * int(wh.sum()),
        lh=wo.low * m * int(xh.sum()),
        ll=wo.low * xo.low * n * m * k * g,
        compensation_adds=comp,
    )
