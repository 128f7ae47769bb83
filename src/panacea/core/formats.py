"""The number formats of the paper: bit widths, slice counts, the HO slice position.

Weights are symmetric signed ``3n+1``-bit integers (4, 7, 10) in ``n`` SBR slices; activations are
unsigned ``4n``-bit integers (8, 12) in ``n`` plain slices; every slice is 4 bits. DBS (section
III-C) gives the lowest activation slice ``lo_bits`` in {4, 5, 6} bits (types 1, 2, 3), which moves
the high-order (HO) slice up to bit ``ho_shift``. Everything else builds on these definitions.
"""

from __future__ import annotations

from typing import Literal

from panacea.core.checks import check_choice

# How a quantization scheme stores its numbers, which decides the designs that can run it:
# ``bitslice-asym``: symmetric SBR weights and unsigned activations with a zero point (Panacea's
# AQS-GEMM, section III); ``bitslice-sym``: signed symmetric activations in 3n+1 bits (Sibia's
# format, section II-B); ``arbitrary``: codes of per-layer codebooks (the JSSC 2024 arbitrary-quantization accelerator).
NumberFormat = Literal["bitslice-asym", "bitslice-sym", "arbitrary"]
BIT_SLICE_FORMATS: tuple[NumberFormat, ...] = ("bitslice-asym", "bitslice-sym")

WEIGHT_BITS = (4, 7, 10)
ACT_BITS = (8, 12)
LO_BITS = (4, 5, 6)
SLICE_BITS = 4


def weight_qmax(bits: int) -> int:
    """Largest magnitude of a narrow-range symmetric ``bits``-bit weight: ``2^(b-1) - 1``."""
    return 2 ** (check_choice("bits", bits, WEIGHT_BITS) - 1) - 1


def act_qmax(bits: int) -> int:
    """Largest unsigned ``bits``-bit activation: ``2^b - 1``."""
    return 2 ** check_choice("bits", bits, ACT_BITS) - 1


def weight_slice_count(bits: int) -> int:
    """Number of SBR slices of a ``3n+1``-bit weight: 4 -> 1, 7 -> 2, 10 -> 3."""
    return (check_choice("w_bits", bits, WEIGHT_BITS) - 1) // 3


def act_slice_count(bits: int) -> int:
    """Number of 4-bit slices of a ``4n``-bit activation: 8 -> 2, 12 -> 3."""
    return check_choice("x_bits", bits, ACT_BITS) // 4


def ho_shift(x_bits: int, lo_bits: int) -> int:
    """Bit position of the activation's HO slice: ``x_bits - 8 + lo_bits`` (``lo_bits`` for 8 bits).

    The HO slice is ``x >> ho_shift``; its skip range (the values sharing one HO slice) is
    ``2^ho_shift`` wide.
    """
    return check_choice("x_bits", x_bits, ACT_BITS) - 8 + check_choice("lo_bits", lo_bits, LO_BITS)


def zero_point_ho(zero_point: int, x_bits: int, lo_bits: int) -> int:
    """The zero point's HO slice ``r = zero_point >> ho_shift`` (section III-B): the HO slice an
    activation vector must have to be skipped, and the one the compensation term (eq. 6) multiplies."""
    return zero_point >> ho_shift(x_bits, lo_bits)


def compensates(zero_point: int, x_bits: int, lo_bits: int) -> bool:
    """Whether the AQS-GEMM needs its compensation term: the zero point's HO slice ``r`` is not 0."""
    return zero_point_ho(zero_point, x_bits, lo_bits) != 0
