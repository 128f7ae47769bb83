"""The fast path's census: everything from the stored-vector masks, with a few small reductions."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from panacea.core.formats import SLICE_BITS
from panacea.core.rle import rle_index_entries
from panacea.gemm.counts import Census, Shape


@dataclass(frozen=True)
class OperandMask:
    """One operand's top-slice vector mask and what follows from it.

    ``stored``: bool ``[ceil(rows/v), K]`` (``[0, K]`` without a high-order slice); ``per_k``: stored
    vectors at each k; ``lanes``: their real lanes at each k; ``top_bits``/``index_bits``: size of
    the RLE-compressed top slices and of its index part (0 unless RLE'd).
    """

    stored: torch.Tensor
    per_k: torch.Tensor
    lanes: torch.Tensor
    top_bits: int
    index_bits: int

    @property
    def vectors(self) -> int:
        return self.stored.numel()

    @property
    def compressed(self) -> int:
        return self.stored.numel() - int(self.per_k.sum())


def operand_mask(stored: torch.Tensor, rows: int, vector: int, index_bits: int, *, rle: bool) -> OperandMask:
    """Summarise a stored-vector mask of an operand with ``rows`` rows (the RLE size if ``rle``)."""
    per_k = stored.view(torch.uint8).sum(dim=0, dtype=torch.int32).to(torch.int64)  # cheapest bool sum
    lanes = per_k * vector
    if stored.shape[0] and rows % vector:  # the last vector is partial: count its real lanes only
        lanes -= (vector - rows % vector) * stored[-1]
    top_bits = index = 0
    if rle and stored.numel():
        index = rle_index_entries(stored, index_bits) * index_bits
        top_bits = index + SLICE_BITS * int(lanes.sum())
    return OperandMask(stored, per_k, lanes, top_bits, index)


def mask_census(s: Shape, x: OperandMask, w: OperandMask, *, x_skipped: bool, w_skipped: bool) -> Census:
    """Census of the fast path. A skipped operand keeps only its stored top-slice vectors (and is
    RLE'd); an operand that is not skipped has every top-slice lane present."""
    return Census(
        wh=w.lanes if w_skipped else torch.full((s.k,), s.m if w.vectors else 0),
        xh=x.lanes if x_skipped else torch.full((s.k,), s.n if x.vectors else 0),
        x_stored_k=x.per_k,
        weight_vectors=w.vectors,
        weight_vectors_compressed=w.compressed,
        act_vectors=x.vectors,
        act_vectors_compressed=x.compressed,
        weight_top_bits=w.top_bits if w_skipped else 0,
        weight_index_bits=w.index_bits if w_skipped else 0,
        act_top_bits=x.top_bits if x_skipped else 0,
        act_index_bits=x.index_bits if x_skipped else 0,
    )
