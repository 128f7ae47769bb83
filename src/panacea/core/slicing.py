"""Bit-slicing of quantized operands into 4-bit slices and slice vectors.

Weights use Sibia's signed bit-slice representation (SBR, paper section II-B): a ``3n+1``-bit
weight becomes ``n`` 4-bit signed slices, ``w = sum_i s_i * 8^(n-1-i)``, top slice first. Near-zero
weights of either sign get a zero top slice, which is what makes weight slices sparse.

Activations are unsigned ``4n``-bit integers cut into plain 4-bit slices (section III-B). With
distribution-based bit-slicing (DBS, section III-C, Fig. 10) the boundary between the high-order
(HO) slice and the rest moves up by ``lo_bits - 4`` bits: the HO slice keeps fewer bits (zero
padded to 4) and the lowest slice drops that many LSBs, so the hardware computes with
``x~ = x`` with its ``lo_bits - 4`` LSBs cleared. ``lo_bits`` in {4, 5, 6} is DBS type 1, 2, 3.
For 12-bit activations the same rule applies to the lowest slice (our generalisation; the paper
describes DBS for 8-bit activations).

Slice vectors have length ``v``: a weight vector is ``v`` consecutive output channels at one k
(paper: 4x1), an activation vector is ``v`` consecutive tokens at one k (1x4). Only the top slice
is compressed: a weight top-slice vector when all its slices are 0, an activation top-slice vector
when all its slices equal ``r = zero_point >> ho_shift`` (the zero point's HO slice). Operands whose
row count is not a multiple of ``v`` are padded (weights with 0, activations with the zero point);
the padding never breaks a compression and is never counted as work or storage.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from panacea.core.checks import check_choice, check_int_range
from panacea.core.formats import (
    ACT_BITS,
    LO_BITS,
    SLICE_BITS,
    act_slice_count,
    ho_shift,
    weight_slice_count,
)

__all__ = [
    "LO_BITS",
    "SLICE_BITS",
    "act_reconstruct",
    "act_slice_count",
    "act_slice_shifts",
    "act_slices",
    "act_vector_stored",
    "dbs_truncate",
    "from_vectors",
    "ho_shift",
    "sbr_reconstruct",
    "sbr_slice_shifts",
    "sbr_slices",
    "sbr_zero_top_count",
    "sbr_zero_top_range",
    "to_vectors",
    "vector_lanes",
    "vector_reduce",
    "weight_slice_count",
    "weight_vector_stored",
]


# --------------------------------------------------------------------------- slice bookkeeping


def sbr_slice_shifts(bits: int) -> list[int]:
    """Left shift of each SBR slice, top first: 7-bit -> [3, 0], 10-bit -> [6, 3, 0]."""
    n = weight_slice_count(bits)
    return [3 * (n - 1 - i) for i in range(n)]


def act_slice_shifts(bits: int, lo_bits: int = 4) -> list[int]:
    """Left shift of each activation slice, top first: 8-bit type 1 -> [4, 0], type 3 -> [6, 2]."""
    n_low = act_slice_count(bits) - 1
    drop = check_choice("lo_bits", lo_bits, LO_BITS) - 4
    return [ho_shift(bits, lo_bits)] + [4 * (n_low - 1 - i) + drop for i in range(n_low)]


def sbr_zero_top_range(bits: int) -> tuple[int, int]:
    """The interval of weights whose top SBR slice is 0: 7-bit -> [-8, 7], 10-bit -> [-72, 63].

    Each lower slice peels ``w -> floor(w / 8) + [w < 0]``, so the interval grows as
    ``lo -> 8 lo - 8``, ``hi -> 8 hi + 7`` per lower slice.
    """
    lo = hi = 0
    for _ in range(weight_slice_count(bits) - 1):
        lo, hi = 8 * lo - 8, 8 * hi + 7
    return lo, hi


# --------------------------------------------------------------------------- slicing


def sbr_slices(w_q: torch.Tensor, bits: int = 7) -> torch.Tensor:
    """SBR slices of signed weights, int8 ``[n, *w_q.shape]``, top slice first.

    Peel from the least significant end (Sibia's SBR, section II-B): the 3-bit LSB group becomes a 4-bit signed
    slice carrying the sign of what remains (``lo - 8`` when the remainder is negative) and the
    remainder is corrected by ``+1`` after the shift. Lower slices lie in [-8, 7], the top slice in
    [-7, 7] for narrow-range weights.
    """
    n = weight_slice_count(bits)
    w = w_q.to(torch.int32)
    lows = []
    for _ in range(n - 1):
        neg = (w < 0).to(torch.int32)
        lows.append((w & 7) - 8 * neg)
        w = (w >> 3) + neg
    return torch.stack([w, *reversed(lows)]).to(torch.int8)


def sbr_reconstruct(slices: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`sbr_slices`: ``sum_i s_i * 8^(n-1-i)`` as int64."""
    out = torch.zeros(slices.shape[1:], dtype=torch.int64)
    for s in slices:
        out = out * 8 + s.to(torch.int64)
    return out


def dbs_truncate(x_q: torch.Tensor | int, lo_bits: int = 4, bits: int = 8) -> torch.Tensor | int:
    """The value the hardware computes with under DBS: ``x`` with ``lo_bits - 4`` LSBs cleared.

    Works on tensors and plain ints. Type 1 (``lo_bits=4``) returns ``x_q`` itself; types 2 and 3
    are lossy by design (Fig. 10).
    """
    drop = check_choice("lo_bits", lo_bits, LO_BITS) - 4
    if drop == 0:
        return x_q
    keep = (2 ** check_choice("x_bits", bits, ACT_BITS) - 1) ^ ((1 << drop) - 1)
    return x_q & keep


def act_slices(x_q: torch.Tensor, bits: int = 8, lo_bits: int = 4) -> torch.Tensor:
    """Unsigned 4-bit slices of activations (DBS-aware), uint8 ``[n, *x_q.shape]``, top first.

    ``HO = x >> ho_shift`` (zero padded to 4 bits), then the remaining ``bits - 4`` bits after
    dropping ``lo_bits - 4`` LSBs, cut into plain 4-bit slices.
    """
    hs = ho_shift(bits, lo_bits)
    n_low = act_slice_count(bits) - 1
    x = x_q.to(torch.int32)
    low = (x & ((1 << hs) - 1)) >> (lo_bits - 4)
    parts = [x >> hs] + [(low >> (4 * (n_low - 1 - i))) & 15 for i in range(n_low)]
    return torch.stack(parts).to(torch.uint8)


def act_reconstruct(slices: torch.Tensor, bits: int = 8, lo_bits: int = 4) -> torch.Tensor:
    """Inverse of :func:`act_slices`: the hardware value ``x~`` as int64 (``x`` for type 1)."""
    out = torch.zeros(slices.shape[1:], dtype=torch.int64)
    for s, shift in zip(slices, act_slice_shifts(bits, lo_bits), strict=True):
        out += s.to(torch.int64) << shift
    return out


# --------------------------------------------------------------------------- slice vectors


def vector_lanes(rows: int, vector: int) -> torch.Tensor:
    """Real (unpadded) lanes of each of the ``ceil(rows / v)`` vectors along a dimension, int64."""
    count = math.ceil(rows / vector)
    lanes = torch.full((count,), vector, dtype=torch.int64)
    lanes[-1] = rows - (count - 1) * vector
    return lanes


def to_vectors(m: torch.Tensor, vector: int, fill: int) -> torch.Tensor:
    """Group rows of ``m[R, K]`` into slice vectors ``[ceil(R/v), K, v]``, padding with ``fill``."""
    rows, k = m.shape
    pad = (-rows) % vector
    if pad:
        m = torch.cat([m, m.new_full((pad, k), fill)])
    return m.view(-1, vector, k).transpose(1, 2)


def from_vectors(vectors: torch.Tensor, rows: int) -> torch.Tensor:
    """Inverse of :func:`to_vectors`: ``[R/v, K, v] -> [R, K]`` without the padding rows."""
    rv, k, v = vectors.shape
    return vectors.transpose(1, 2).reshape(rv * v, k)[:rows]


def vector_reduce(t: torch.Tensor, vector: int, reduce=torch.amax) -> torch.Tensor:
    """``reduce`` (``torch.amax``, ``torch.amin``) over each slice vector of ``t[R, K]``: ``[ceil(R/v), K]``.

    A partial last vector is reduced over its real rows only, which is what padding with a value
    that never breaks a compression amounts to. (``amin`` and ``amax`` separately: ``aminmax``
    along a dimension is far slower here.)
    """
    rows, k = t.shape
    full = rows // vector
    t = t.contiguous()
    head = reduce(t[: full * vector].view(full, vector, k), dim=1)
    if rows % vector == 0:
        return head
    return torch.cat([head, reduce(t[full * vector :], dim=0, keepdim=True)])


def _fits(t: torch.Tensor, bound: int) -> torch.Tensor:
    """``t`` itself if its dtype holds ``+-bound``, else ``t`` widened to int32."""
    return t if torch.iinfo(t.dtype).max >= bound else t.to(torch.int32)


def weight_vector_stored(w_q: torch.Tensor, bits: int = 7, vector: int = 4) -> torch.Tensor:
    """Which weight top-slice vectors are stored (not all-zero): bool ``[ceil(M/v), K]``.

    The top slice is zero exactly inside ``[lo, hi]`` (:func:`sbr_zero_top_range`), i.e. where
    ``|2w - (lo + hi)| <= hi - lo``: one pass and one reduction. A 4-bit weight has no high-order
    slice, so it has no top-slice vectors: ``[0, K]``.
    """
    check_int_range("vector", vector, 1, 64)
    if weight_slice_count(bits) == 1:
        return torch.zeros((0, w_q.shape[1]), dtype=torch.bool)
    lo, hi = sbr_zero_top_range(bits)
    q = 2 ** (bits - 1) - 1
    w = _fits(w_q, 2 * q + abs(lo + hi))
    return vector_reduce((w * 2 - (lo + hi)).abs_(), vector) > hi - lo


def sbr_zero_top_count(t: torch.Tensor, bits: int) -> int:
    """How many of the signed ``bits``-bit values ``t`` have a zero top SBR slice (lie in
    :func:`sbr_zero_top_range`), by ``|2t - (lo + hi)| <= hi - lo`` in place on one int16 copy (a
    fresh tensor per step would cost more than the step)."""
    lo, hi = sbr_zero_top_range(bits)
    return int(torch.count_nonzero(t.to(torch.int16, copy=True).mul_(2).sub_(lo + hi).abs_().le_(hi - lo)))


def act_vector_stored(
    x_q: torch.Tensor, zero_point: int, bits: int = 8, lo_bits: int = 4, vector: int = 4
) -> torch.Tensor:
    """Which activation top-slice vectors are stored (not all equal to ``r``): bool ``[ceil(N/v), K]``.

    ``x >> ho_shift == r`` exactly when ``x ^ (r << ho_shift) < 2^ho_shift`` (the XOR clears the HO
    bits that match ``r``), so one pass and one reduction decide every vector.
    """
    check_int_range("vector", vector, 1, 64)
    hs = ho_shift(bits, lo_bits)
    base = (zero_point >> hs) << hs
    return vector_reduce(_fits(x_q, base) ^ base, vector) >= 1 << hs


# Which operand Sibia's zero-vector skipping uses: a property of the two operands' stored top
# slices, needed by both the exact GEMM and Sibia's cost model.
SibiaSkip = Literal["activations", "weights", "none"]


def sibia_skip(x_stored: torch.Tensor | None, w_stored: torch.Tensor | None) -> SibiaSkip:
    """The operand Sibia skips: the one with the higher top-slice vector sparsity (ties: activations).

    An operand without a high-order slice (4 bits, or ``None``) has nothing to skip.
    """
    x_ok = x_stored is not None and x_stored.numel() > 0
    w_ok = w_stored is not None and w_stored.numel() > 0
    if not (x_ok or w_ok):
        return "none"
    if not w_ok:
        return "activations"
    if not x_ok:
        return "weights"
    x_dense = int(x_stored.sum()) * w_stored.numel()
    return "activations" if x_dense <= int(w_stored.sum()) * x_stored.numel() else "weights"
