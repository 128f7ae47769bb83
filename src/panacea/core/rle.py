"""Run-length encoding of rows of top-slice vectors (Sibia's RLE as used by Panacea, section III-B).

A row is the sequence of slice vectors of one vector-row along k. Only stored (uncompressed)
vectors keep their data. Each stored vector carries a ``b``-bit index: the number of compressed
vectors skipped since the previous stored vector of the row. Indices and data live in separate
streams, as in Panacea's PEA (index decoder + weight index buffer next to the weight buffer).

Long runs: the largest index value ``F = 2^b - 1`` is reserved for a *filler* entry, which skips
``F`` compressed vectors and carries no data. A run of ``L`` compressed vectors before a stored one
is written as ``L // F`` fillers followed by the stored vector's index ``L % F`` (at most ``F - 1``,
so a stored index never collides with the filler code). Compressed vectors after the last stored one
of a row need no entry: the decoder knows the row length. The encoded size is
``entries * b + stored slices * 4`` bits; that is the traffic the accelerator moves (EMA).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from panacea.core.checks import check_int_range
from panacea.core.formats import SLICE_BITS
from panacea.core.tensors import count_true, row_major

INDEX_BITS = (1, 16)  # supported range of b


@dataclass(frozen=True)
class RleRows:
    """The RLE streams of ``rows`` rows of ``length`` slice vectors each.

    ``index``: int32 ``[E]``, all entries of all rows in row order; ``data``: ``[S, v]``, the stored
    vectors in the same order; ``row_entries`` / ``row_stored``: int64 ``[rows]``, entries and stored
    vectors per row.
    """

    index: torch.Tensor
    data: torch.Tensor
    row_entries: torch.Tensor
    row_stored: torch.Tensor
    length: int
    index_bits: int

    @property
    def rows(self) -> int:
        return self.row_entries.numel()

    @property
    def filler(self) -> int:
        return 2**self.index_bits - 1

    @property
    def index_size_bits(self) -> int:
        return self.index.numel() * self.index_bits

    def size_bits(self, lanes: torch.Tensor | None = None, slice_bits: int = SLICE_BITS) -> int:
        """Stored size: index bits plus ``slice_bits`` per stored slice.

        ``lanes`` (int64 ``[rows]``) counts only the real lanes of each row's vectors, so padding
        lanes of a partial last vector-row are not charged.
        """
        data_slices = self.data.numel() if lanes is None else int((self.row_stored * lanes).sum())
        return self.index_size_bits + data_slices * slice_bits


def _check_stored(stored: torch.Tensor) -> torch.Tensor:
    if not isinstance(stored, torch.Tensor) or stored.dtype != torch.bool or stored.ndim not in (1, 2):
        raise TypeError("stored must be a bool tensor of shape [length] or [rows, length]")
    return stored if stored.ndim == 2 else stored.unsqueeze(0)


def _runs_before_stored(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-major flat positions of the stored vectors and the compressed run before each."""
    rows, length = mask.shape
    pos = np.flatnonzero(mask)
    runs = np.empty_like(pos)
    if pos.size:
        runs[1:] = np.diff(pos) - 1
        # Each row's first stored vector runs from the row start: O(rows log S), no division.
        starts = np.arange(rows) * length
        first = np.searchsorted(pos, starts)
        has = first < np.append(first[1:], pos.size)
        runs[first[has]] = pos[first[has]] - starts[has]
    return pos, runs


def _runs_ended_by_stored(mask: np.ndarray) -> np.ndarray:
    """Lengths of the compressed runs that a stored vector ends (walks the compressed vectors).

    A non-compressed sentinel column after each row keeps runs from spanning rows; a run that
    reaches its sentinel trails its row and needs no entry.
    """
    rows, length = mask.shape
    compressed = np.zeros((rows, length + 1), dtype=bool)
    np.logical_not(mask, out=compressed[:, :length])
    pos = np.flatnonzero(compressed)
    if pos.size == 0:
        return pos
    ends = np.append(np.flatnonzero(np.diff(pos) != 1), pos.size - 1)
    lengths = np.diff(ends, prepend=-1)
    return lengths[(pos[ends] + 2) % (length + 1) != 0]


def _rows_with_long_runs(stored: torch.Tensor, block: int) -> torch.Tensor:
    """Rows that may hold a run of ``2 * block - 1`` or more compressed vectors, bool ``[rows]``.

    Such a run covers a whole aligned block of ``block`` positions (one that ends in a partial last
    block still covers the aligned block before it), so rows without an all-compressed aligned
    block cannot hold one. Blocks of up to 8 vectors are tested as single machine words.
    """
    rows, length = stored.shape
    main = length - length % block
    if main == 0:
        return torch.zeros(rows, dtype=torch.bool)
    head = row_major(stored[:, :main])
    if block in (1, 2, 4, 8):
        words = head.view(torch.uint8).view({1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[block])
        return (words == 0).any(dim=1)
    return (~head.view(rows, main // block, block).any(dim=2)).any(dim=1)


def rle_index_entries(stored: torch.Tensor, index_bits: int = 4) -> int:
    """Total index entries (stored vectors plus fillers) of all rows, without building the streams.

    A run of ``L`` compressed vectors ended by a stored one costs ``L // (2^b - 1)`` fillers. Only
    rows that can hold a run that long are walked (see :func:`_rows_with_long_runs`), from whichever
    side is rarer there, the stored or the compressed vectors (``numpy``'s ``flatnonzero`` is
    several times faster than ``torch.nonzero`` here).
    """
    b = check_int_range("index_bits", index_bits, *INDEX_BITS)
    stored = _check_stored(stored)
    filler = 2**b - 1
    mask = stored.numpy()
    n_stored = int(np.count_nonzero(mask))
    candidates = _rows_with_long_runs(stored, 2 ** (b - 1))
    if not bool(candidates.any()):
        return n_stored
    if not bool(candidates.all()):
        mask = mask[candidates.numpy()]
    dense = 2 * (n_stored if mask.shape[0] == stored.shape[0] else int(np.count_nonzero(mask))) > mask.size
    runs = _runs_ended_by_stored(mask) if dense else _runs_before_stored(mask)[1]
    long = runs[runs >= filler]
    return n_stored + int((long // filler).sum())


def rle_row_entries(stored: torch.Tensor, index_bits: int = 4) -> torch.Tensor:
    """Index entries (stored vectors plus fillers) of each row, int64 ``[rows]``; only the rows that
    can hold a run long enough for a filler are walked (as in :func:`rle_index_entries`)."""
    b = check_int_range("index_bits", index_bits, *INDEX_BITS)
    stored = _check_stored(stored)
    entries = count_true(stored, 1).long()
    rows = _rows_with_long_runs(stored, 2 ** (b - 1)).nonzero().squeeze(1)
    if len(rows):
        mask = stored[rows].numpy()
        pos, runs = _runs_before_stored(mask)
        fillers = np.bincount(pos // mask.shape[1], weights=runs // (2**b - 1), minlength=len(rows))
        entries[rows] += torch.from_numpy(fillers.astype(np.int64))
    return entries


def rle_encode(vectors: torch.Tensor, stored: torch.Tensor, index_bits: int = 4) -> RleRows:
    """Encode rows of slice vectors ``[rows, length, v]`` (or one row ``[length, v]``).

    ``stored[rows, length]`` marks the uncompressed vectors; the others are dropped.
    """
    b = check_int_range("index_bits", index_bits, *INDEX_BITS)
    stored = _check_stored(stored)
    if vectors.ndim == 2:
        vectors = vectors.unsqueeze(0)
    if vectors.shape[:2] != stored.shape:
        raise ValueError(
            f"vectors must have shape [rows, length, v] matching stored {tuple(stored.shape)}, "
            f"got {tuple(vectors.shape)}"
        )
    filler = 2**b - 1
    pos, run = (torch.from_numpy(a) for a in _runs_before_stored(stored.numpy()))
    rows, length = stored.shape
    row, col = pos // length, pos % length
    fillers = run // filler
    per_vector = fillers + 1
    index = torch.full((int(per_vector.sum()),), filler, dtype=torch.int32)
    index[torch.cumsum(per_vector, 0) - 1] = (run - fillers * filler).to(torch.int32)
    return RleRows(
        index=index,
        data=vectors[row, col],
        row_entries=torch.bincount(row, weights=per_vector, minlength=rows).to(torch.int64),
        row_stored=torch.bincount(row, minlength=rows),
        length=length,
        index_bits=b,
    )


def rle_decode(enc: RleRows, fill: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode to ``(stored [rows, length], vectors [rows, length, v])``; dropped vectors get ``fill``."""
    filler = enc.filler
    entry_row = torch.repeat_interleave(torch.arange(enc.rows), enc.row_entries)
    is_data = enc.index != filler
    advance = torch.where(is_data, enc.index.to(torch.int64) + 1, filler)
    # Position after each entry within its row: a global running sum minus the rows before it.
    row_advance = torch.zeros(enc.rows, dtype=torch.int64).index_add_(0, entry_row, advance)
    if enc.rows and int(row_advance.max()) > enc.length:
        raise ValueError(f"enc describes rows longer than length={enc.length}: the stream is corrupt")
    after = torch.cumsum(advance, 0) - (torch.cumsum(row_advance, 0) - row_advance)[entry_row]
    row, col = entry_row[is_data], after[is_data] - 1
    if row.numel() != enc.data.shape[0]:
        raise ValueError(f"enc has {row.numel()} data entries but {enc.data.shape[0]} stored vectors")
    stored = torch.zeros((enc.rows, enc.length), dtype=torch.bool)
    stored[row, col] = True
    vectors = enc.data.new_full((enc.rows, enc.length, *enc.data.shape[1:]), fill)
    vectors[row, col] = enc.data
    return stored, vectors
