"""The slice-level path: the bit-slice GEMMs as the hardware runs them.

Operands are sliced; top-slice rows are grouped into vectors, run-length encoded and decoded again,
so the compressed vectors' values never reach the multipliers; every slice pair is multiplied on
what was stored; Panacea's compensator (eq. 6) restores the skipped ``r``-valued vectors. Counts
come from the decoded streams, independently of the fast path's masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from panacea.core.intmm import grouped_matmul
from panacea.core.rle import rle_decode, rle_encode
from panacea.core.slicing import (
    act_slice_shifts,
    act_slices,
    from_vectors,
    sbr_slice_shifts,
    sbr_slices,
    sibia_skip,
    to_vectors,
    vector_lanes,
)
from panacea.gemm.counts import Census, Shape, Skipped


@dataclass(frozen=True)
class TopSlices:
    """A top-slice matrix as the core sees it."""

    values: torch.Tensor  # [rows, K]: what the core multiplies (0 where a vector was dropped)
    present: torch.Tensor  # bool [rows, K]: lanes the core multiplies
    stored: torch.Tensor  # bool [ceil(rows/v), K]: vectors that are not compressible
    total_bits: int  # RLE size incl. indices (0 when not RLE'd)
    index_bits: int


def _no_top(k: int) -> TopSlices:
    """An operand without a high-order slice."""
    empty = torch.zeros((0, k), dtype=torch.bool)
    return TopSlices(torch.zeros((0, k)), empty, empty, 0, 0)


def through_rle(top: torch.Tensor, compressed_value: int, vector: int, index_bits: int) -> TopSlices:
    """Group a top-slice matrix into vectors, RLE-encode its rows and decode them again."""
    rows = top.shape[0]
    vectors = to_vectors(top, vector, fill=compressed_value)
    stream = rle_encode(vectors, (vectors != compressed_value).any(dim=-1), index_bits)
    stored, decoded = rle_decode(stream, fill=0)
    return TopSlices(
        values=from_vectors(decoded, rows),
        present=from_vectors(stored.unsqueeze(-1).expand(-1, -1, vector), rows),
        stored=stored,
        total_bits=stream.size_bits(lanes=vector_lanes(rows, vector)),
        index_bits=stream.index_size_bits,
    )


def dense_top(top: torch.Tensor, vector: int) -> TopSlices:
    """A top-slice matrix used as is (Sibia's operand that is not skipped): every lane present."""
    return TopSlices(
        values=top,
        present=torch.ones_like(top, dtype=torch.bool),
        stored=(to_vectors(top, vector, fill=0) != 0).any(dim=-1),
        total_bits=0,
        index_bits=0,
    )


def census(s: Shape, x_top: TopSlices | None, w_top: TopSlices | None) -> Census:
    """Census from the element-level presence of the decoded top slices."""
    x_top, w_top = x_top or _no_top(s.k), w_top or _no_top(s.k)
    return Census(
        wh=w_top.present.sum(dim=0),
        xh=x_top.present.sum(dim=0),
        x_stored_k=x_top.stored.sum(dim=0),
        weight_vectors=w_top.stored.numel(),
        weight_vectors_compressed=int((~w_top.stored).sum()),
        act_vectors=x_top.stored.numel(),
        act_vectors_compressed=int((~x_top.stored).sum()),
        weight_top_bits=w_top.total_bits,
        weight_index_bits=w_top.index_bits,
        act_top_bits=x_top.total_bits,
        act_index_bits=x_top.index_bits,
    )


def _slice_mm(a: torch.Tensor, b: torch.Tensor, groups: int) -> torch.Tensor:
    """One slice-pair GEMM of 4-bit slices (unsigned [0, 15] or signed [-8, 7]) -> int64 ``[N, G*M]``."""
    return grouped_matmul(a, b, groups=groups, a_range=(-8, 15), b_range=(-8, 15))


def bitslice_products(
    s: Shape, x_parts: list[tuple[torch.Tensor, int]], w_parts: list[tuple[torch.Tensor, int]]
) -> torch.Tensor:
    """``sum over slice pairs of (X_s @ W_t.T) * 2^(shift_s + shift_t)``: the bit-slice GEMMs."""
    out = torch.zeros((s.n, s.groups * s.m), dtype=torch.int64)
    for xs, x_shift in x_parts:
        for ws, w_shift in w_parts:
            out += _slice_mm(xs, ws, s.groups) * (1 << (x_shift + w_shift))
    return out


def aqs(
    s: Shape,
    x: torch.Tensor,
    w: torch.Tensor,
    *,
    r: int,
    x_bits: int,
    lo_bits: int,
    w_bits: int,
    vector: int,
    index_bits: int,
) -> tuple[torch.Tensor, Census]:
    """The AQS-GEMM: RLE'd top slices, skipped vectors, compensator."""
    xs = act_slices(x, x_bits, lo_bits)
    x_shifts = act_slice_shifts(x_bits, lo_bits)
    x_top = through_rle(xs[0], r, vector, index_bits)  # X_H^U: r-valued vectors are gone
    x_parts = [(x_top.values, x_shifts[0]), *zip(xs[1:], x_shifts[1:], strict=True)]

    ws = sbr_slices(w, w_bits)
    w_parts = list(zip(ws, sbr_slice_shifts(w_bits), strict=True))
    w_top = through_rle(ws[0], 0, vector, index_bits) if s.w_has_top else None
    if w_top is not None:
        w_parts[0] = (w_top.values, w_parts[0][1])

    out = bitslice_products(s, x_parts, w_parts)
    if r:
        # Eq. (6): W X_H = W X_H^U + r W 1 - r W 1_U. The compensator accumulates, per activation
        # token, the loaded weight slices at every k whose activation vector is stored (1_U), then
        # multiplies by r; r W 1 is the offline bias fold (per output channel of each group).
        ones_u = x_top.present.to(torch.int8)
        w_1u = torch.zeros((s.n, s.groups * s.m), dtype=torch.int64)
        bias_fold = torch.zeros(s.groups * s.m, dtype=torch.int64)
        for ws_, shift in w_parts:
            w_1u += _slice_mm(ones_u, ws_, s.groups) * (1 << shift)
            row_sums = ws_.to(torch.int64).reshape(s.m, s.groups, -1).sum(dim=2)  # [M, G]
            bias_fold += row_sums.t().reshape(-1) * (1 << shift)
        out += (r << x_shifts[0]) * (bias_fold - w_1u)
    return out, census(s, x_top, w_top)


def sibia(
    s: Shape, x: torch.Tensor, w: torch.Tensor, *, x_bits: int, w_bits: int, vector: int, index_bits: int
) -> tuple[torch.Tensor, Census, Skipped]:
    """Sibia: SBR on both operands, RLE and skip the sparser operand's all-zero top vectors."""
    xs, ws = sbr_slices(x, x_bits), sbr_slices(w, w_bits)
    x_parts = list(zip(xs, sbr_slice_shifts(x_bits), strict=True))
    w_parts = list(zip(ws, sbr_slice_shifts(w_bits), strict=True))
    x_top = dense_top(xs[0], vector) if s.x_has_top else None
    w_top = dense_top(ws[0], vector) if s.w_has_top else None
    skip = sibia_skip(x_top.stored if x_top else None, w_top.stored if w_top else None)
    if skip == "activations":
        x_top = through_rle(xs[0], 0, vector, index_bits)
        x_parts[0] = (x_top.values, x_parts[0][1])
    elif skip == "weights":
        w_top = through_rle(ws[0], 0, vector, index_bits)
        w_parts[0] = (w_top.values, w_parts[0][1])
    out = bitslice_products(s, x_parts, w_parts)
    return out, census(s, x_top, w_top), skip
