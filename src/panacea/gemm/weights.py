"""Signed weights packed once for repeated bit-slice GEMMs (the paper's offline weight steps).

Weights are static: the accelerator keeps them RLE-compressed in DRAM and folds ``r W 1`` into the
bias offline (section III-B, eq. 6). :func:`pack_weights` does that work once — validation, the
top-slice vector mask and its RLE size, the row sums ``W 1`` — so that every later GEMM with the
same weights pays only for its activations. Passing a plain tensor to a GEMM packs it on the fly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from panacea.core.checks import as_int_matrix, check_choice, check_int_range, check_values_in
from panacea.core.formats import WEIGHT_BITS, weight_qmax, weight_slice_count
from panacea.core.intmm import int_matmul
from panacea.core.rle import INDEX_BITS
from panacea.core.slicing import weight_vector_stored
from panacea.gemm.masks import OperandMask, operand_mask

VECTOR_RANGE = (1, 64)
DEFAULT_W_BITS, DEFAULT_VECTOR, DEFAULT_INDEX_BITS = 7, 4, 4


@dataclass(frozen=True)
class PackedWeights:
    """Validated narrow-range signed weights ``values[M, K]`` with their offline data.

    ``mask`` summarises the SBR top-slice vectors (``v`` output channels at one k) and their RLE
    size with ``index_bits``-bit indices; ``row_sums`` is ``W 1`` (int64 ``[M]``).
    """

    values: torch.Tensor
    bits: int
    vector: int
    index_bits: int
    value_range: tuple[int, int]
    mask: OperandMask
    row_sums: torch.Tensor

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.values.shape)

    @property
    def slices(self) -> int:
        return weight_slice_count(self.bits)


def pack_weights(
    w_q: torch.Tensor, *, bits: int = DEFAULT_W_BITS, vector: int = DEFAULT_VECTOR, index_bits: int = DEFAULT_INDEX_BITS
) -> PackedWeights:
    """Validate and pack ``bits``-bit symmetric weights ``w_q[M, K]`` for slice vectors of length
    ``vector`` and RLE indices of ``index_bits`` bits."""
    return _pack(w_q, bits, vector, index_bits, bits_name="bits")


def _pack(w_q: object, bits: int, vector: int, index_bits: int, *, bits_name: str) -> PackedWeights:
    bits = check_choice(bits_name, bits, WEIGHT_BITS)
    vector = check_int_range("vector", vector, *VECTOR_RANGE)
    index_bits = check_int_range("index_bits", index_bits, *INDEX_BITS)
    values = as_int_matrix("w_q", w_q)
    q = weight_qmax(bits)
    value_range = check_values_in("w_q", values, -q, q, f"narrow-range signed {bits}-bit weights")
    ones = torch.ones((1, values.shape[1]), dtype=torch.int8)
    return PackedWeights(
        values=values,
        bits=bits,
        vector=vector,
        index_bits=index_bits,
        value_range=value_range,
        mask=operand_mask(weight_vector_stored(values, bits, vector), values.shape[0], vector, index_bits, rle=True),
        row_sums=int_matmul(ones, values, a_range=(1, 1), b_range=value_range)[0],
    )


def as_packed(
    w_q: torch.Tensor | PackedWeights, bits: int | None, vector: int | None, index_bits: int | None, *, bits_name: str
) -> PackedWeights:
    """``w_q`` packed with the given settings (``None``: the default, or the packed weights' own).

    Packed weights must agree with every setting that is given.
    """
    if isinstance(w_q, PackedWeights):
        for arg, given, packed in (
            (bits_name, bits, w_q.bits),
            ("vector", vector, w_q.vector),
            ("index_bits", index_bits, w_q.index_bits),
        ):
            if given is not None and given != packed:
                raise ValueError(f"{arg}={given} was given but w_q was packed with {packed}")
        return w_q
    return _pack(
        w_q,
        DEFAULT_W_BITS if bits is None else bits,
        DEFAULT_VECTOR if vector is None else vector,
        DEFAULT_INDEX_BITS if index_bits is None else index_bits,
        bits_name=bits_name,
    )
