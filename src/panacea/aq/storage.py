"""The two storage formats of the JSSC 2024 arbitrary-quantization accelerator: raw and run-length
compressed, chosen per block.

A tensor of codes ``[rows, length]`` is cut along each row into blocks of ``block`` codes (the last
one of a row may be shorter). Each block is stored in one of two formats, with one flag bit:

- **raw**: every code, ``bits`` bits each;
- **RLE**: only the nonzero codes, each with a ``run_bits`` index = the zeros skipped since the
  previous nonzero code of the block (the same entry and filler scheme as :mod:`panacea.core.rle`:
  a run of ``F = 2^run_bits - 1`` or more zeros takes fillers that carry no code), plus a header
  with the block's entry count (``bit_length(block)`` bits). Trailing zeros need no entry.

The **runtime density detector** (:func:`choose_rle`) counts a block's nonzero codes and picks RLE
when that density makes it smaller (``nnz * (bits + run_bits) + header < length * bits``; fillers
are not foreseen, so near the threshold a block with long zero runs can come out a little larger,
as hardware deciding on the count alone would). The **zero-eliminator** (:func:`zero_eliminate`)
turns either format into the stream of nonzero codes and their positions, which is all the
bit-serial engine consumes; :func:`load` is its inverse of :func:`store`, exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from panacea.aq.codebook import BITS
from panacea.core.checks import as_int_matrix, check_int_range, check_values_in
from panacea.core.rle import INDEX_BITS, RleRows, rle_decode, rle_encode, rle_row_entries
from panacea.core.tensors import count_true


def header_bits(block: int) -> int:
    """Bits of an RLE block's entry count (at most ``block`` entries)."""
    return block.bit_length()


def choose_rle(nonzero: torch.Tensor, length: torch.Tensor, bits: int, run_bits: int, block: int) -> torch.Tensor:
    """The density detector: RLE for the blocks whose ``nonzero`` count (of ``length`` codes) makes
    it smaller than raw (module docstring). Bool, shaped like ``nonzero``."""
    return nonzero * (bits + run_bits) + header_bits(block) < length * bits


def rle_threshold(bits: int, run_bits: int, block: int) -> float:
    """The density of a full block below which the detector picks RLE."""
    return (block * bits - header_bits(block)) / (bits + run_bits) / block


@dataclass(frozen=True)
class BlockStore:
    """A tensor of codes in the two formats (module docstring).

    ``rle``: bool ``[rows, blocks]``, the format of each block; ``raw``: uint8, the codes of the raw
    blocks in order; ``runs``: the RLE streams, one row per RLE block in order.
    """

    rows: int
    length: int
    bits: int
    block: int
    run_bits: int
    rle: torch.Tensor
    raw: torch.Tensor
    runs: RleRows

    @property
    def blocks(self) -> int:
        return self.rle.shape[1]

    def _lengths(self) -> torch.Tensor:
        """Real codes in each block, int64 ``[rows, blocks]``."""
        lengths = torch.full((self.rows, self.blocks), self.block, dtype=torch.int64)
        lengths[:, -1] = self.length - (self.blocks - 1) * self.block
        return lengths

    def row_bits(self) -> torch.Tensor:
        """Stored bits of each row (flags, raw codes, RLE headers, indices and codes), int64 ``[rows]``."""
        rle = self.rle.reshape(-1)
        per_block = torch.zeros(rle.numel(), dtype=torch.int64)
        per_block[~rle] = self._lengths().reshape(-1)[~rle] * self.bits
        per_block[rle] = (
            header_bits(self.block) + self.runs.row_entries * self.run_bits + self.runs.row_stored * self.bits
        )
        return (per_block + 1).reshape(self.rows, self.blocks).sum(1)

    @property
    def size_bits(self) -> int:
        return int(self.row_bits().sum())


def _blocks(codes: object, bits: int, block: int, run_bits: int) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """Validated ``codes [rows, length]`` cut into blocks: ``(blocks uint8 [rows * n_blocks, block]
    zero-padded, real codes per block int64 [rows * n_blocks], rows, length)``."""
    bits = check_int_range("bits", bits, *BITS)
    block = check_int_range("block", block, 1, 1 << 16)
    check_int_range("run_bits", run_bits, *INDEX_BITS)
    codes = as_int_matrix("codes", codes)
    check_values_in("codes", codes, 0, 2**bits - 1, f"{bits}-bit codes")
    rows, length = codes.shape
    n_blocks = math.ceil(length / block)
    blocks = F.pad(codes.to(torch.uint8), (0, n_blocks * block - length)).reshape(rows * n_blocks, block)
    lengths = torch.full((rows, n_blocks), block, dtype=torch.int64)
    lengths[:, -1] = length - (n_blocks - 1) * block
    return blocks, lengths.reshape(-1), rows, length


def store(codes: torch.Tensor, bits: int, *, block: int = 64, run_bits: int = 4) -> BlockStore:
    """Store ``codes [rows, length]`` (values below ``2^bits``), each block in the format the density
    detector picks."""
    blocks, lengths, rows, length = _blocks(codes, bits, block, run_bits)
    nonzero = blocks != 0
    rle = choose_rle(nonzero.sum(1), lengths, bits, run_bits, block)
    real = torch.arange(block)[None, :] < lengths[~rle][:, None]
    return BlockStore(
        rows=rows,
        length=length,
        bits=bits,
        block=block,
        run_bits=run_bits,
        rle=rle.reshape(rows, -1),
        raw=blocks[~rle][real],
        runs=rle_encode(blocks[rle].unsqueeze(-1), nonzero[rle], index_bits=run_bits),
    )


@dataclass(frozen=True)
class StoredSize:
    """What :func:`stored_size` measures: the stored bits of each row (int64 ``[rows]``), the RLE
    index entries and the nonzero codes."""

    row_bits: torch.Tensor
    entries: int
    nonzero: int

    @property
    def bits(self) -> int:
        return int(self.row_bits.sum())


def stored_size(codes: torch.Tensor, bits: int, *, block: int = 64, run_bits: int = 4) -> StoredSize:
    """``store(codes, ...)``'s sizes (``row_bits()``, ``runs.index.numel()``) and the nonzero codes,
    without building the streams: of an RLE block only its index entries are counted
    (:func:`panacea.core.rle.rle_row_entries`)."""
    blocks, lengths, rows, _ = _blocks(codes, bits, block, run_bits)
    nonzero = blocks != 0
    per_block = count_true(nonzero, 1).long()
    rle = choose_rle(per_block, lengths, bits, run_bits, block)
    entries = rle_row_entries(nonzero[rle], run_bits)
    block_bits = lengths * bits
    block_bits[rle] = header_bits(block) + entries * run_bits + per_block[rle] * bits
    row_bits = (block_bits + 1).reshape(rows, -1).sum(1)  # + one format flag per block
    return StoredSize(row_bits, int(entries.sum()), int(per_block.sum()))


def zero_eliminate(s: BlockStore) -> tuple[torch.Tensor, torch.Tensor]:
    """The nonzero codes of either format with their row-major flat positions, in position order:
    ``(positions int64 [nnz], codes uint8 [nnz])``."""
    rle = s.rle.reshape(-1)
    raw_ids, rle_ids = (~rle).nonzero().squeeze(1), rle.nonzero().squeeze(1)
    raw_blocks = torch.zeros(raw_ids.numel(), s.block, dtype=torch.uint8)
    raw_blocks[torch.arange(s.block)[None, :] < s._lengths().reshape(-1)[raw_ids][:, None]] = s.raw
    _, rle_codes = rle_decode(s.runs)
    blocks = torch.zeros(rle.numel(), s.block, dtype=torch.uint8)
    blocks[raw_ids] = raw_blocks
    blocks[rle_ids] = rle_codes.squeeze(-1).to(torch.uint8)
    block_id, offset = blocks.nonzero(as_tuple=True)
    row, col = block_id // s.blocks, (block_id % s.blocks) * s.block + offset
    return row * s.length + col, blocks[block_id, offset]


def load(s: BlockStore) -> torch.Tensor:
    """The codes ``[rows, length]`` back (uint8): the zero-eliminator's stream scattered into zeros."""
    positions, codes = zero_eliminate(s)
    out = torch.zeros(s.rows * s.length, dtype=torch.uint8)
    out[positions] = codes
    return out.reshape(s.rows, s.length)
