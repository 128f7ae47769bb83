"""Distribution-based bit-slicing (DBS, paper section III-C, Figs. 9-10): the type rule.

The calibration records a histogram of each layer's quantized activations and takes its standard
deviation ``sigma`` (in quantization steps). For a Gaussian, the share of values within
``+-2^(l-1)`` of the centre, i.e. inside a skip range of width ``2^l`` centred on the distribution
(which ZPM arranges), is ``erf(2^(l-1) / (sigma * sqrt(2)))`` (the paper's z-score table). DBS takes
the narrowest slicing that reaches the target slice sparsity ``S``: type 1 (``l = 4``) if it
reaches ``S``, else type 2 (``l = 5``) if that does, else type 3 (``l = 6``).

``l`` here is the HO slice's bit position (``ho_shift``), which equals ``lo_bits`` for 8-bit
activations and ``lo_bits + 4`` for 12-bit ones.
"""

from __future__ import annotations

import math
import numbers

from panacea.core.checks import check_fraction
from panacea.core.formats import LO_BITS, ho_shift


def skip_range_share(sigma: float, *, lo_bits: int, x_bits: int = 8) -> float:
    """Gaussian share of values inside the centred skip range of DBS type ``lo_bits - 3``."""
    if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not math.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    half = 2 ** (ho_shift(x_bits, lo_bits) - 1)
    return 1.0 if sigma == 0 else math.erf(half / (sigma * math.sqrt(2.0)))


def dbs_lo_bits(sigma: float, target_sparsity: float = 0.9, *, x_bits: int = 8) -> int:
    """The DBS choice of ``lo_bits`` (4, 5 or 6) for a layer whose quantized activations have ``sigma``.

    The paper does not state its target; 0.9 is our default, configurable per calibration.
    """
    target = check_fraction("target_sparsity", target_sparsity)
    for lo_bits in LO_BITS[:-1]:
        if skip_range_share(sigma, lo_bits=lo_bits, x_bits=x_bits) >= target:
            return lo_bits
    return LO_BITS[-1]


def dbs_type(lo_bits: int) -> int:
    """DBS type (1, 2, 3) of a low-order slice width (4, 5, 6)."""
    if lo_bits not in LO_BITS:
        raise ValueError(f"lo_bits must be one of {list(LO_BITS)}, got {lo_bits!r}")
    return lo_bits - 3


def dbs_truncation_bias(lo_bits: int) -> float:
    """Mean value, in quantization steps, that DBS's dropped LSBs remove: ``(2^(lo_bits-4) - 1) / 2``.

    Types 2/3 clear ``lo_bits - 4`` LSBs (``x~ <= x``). For values spread evenly over those LSBs the
    loss is this constant on average; dequantizing with ``zero_point - bias`` removes it, and being
    a constant offset it folds into the layer's bias like the zero-point term (eq. 3).
    """
    return ((1 << (dbs_type(lo_bits) - 1)) - 1) / 2
