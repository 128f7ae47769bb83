"""Bit-exact bit-slice GEMMs: Panacea's AQS-GEMM (section III-B) and Sibia's bit-slice GEMM.

Convention (``nn.functional.linear``): activations ``x_q[N, K]`` (N tokens), weights ``w_q[M, K]``,
output ``[N, M] = x_q @ w_q.T``. The paper writes the same product as ``W X``.

AQS-GEMM. Weights are SBR-sliced (top slice ``W_H``, lower slices ``W_L``), activations are sliced
unsigned (HO slice ``X_H``, lower slices ``X_L``; DBS moves the boundary). Top-slice vectors are
compressed when all-zero (weights) or all equal to ``r``, the zero point's HO slice (activations),
and their multiplications are skipped. Skipping ``r``-valued activation vectors needs the
compensation of eqs. (5)-(6): with ``X_H = X_H^U + r 1_C`` and ``1_C = 1 - 1_U``,

    W X_H = W X_H^U + r W 1 - r W 1_U.

``r W 1`` depends on weights only and is folded into the bias offline; ``r W 1_U`` is what the
compensators compute by accumulating the weight slices already loaded for uncompressed activation
vectors and multiplying once by ``r``. The result equals the dense integer product exactly (for
DBS types 2/3: the product with ``x~``, the activations with their dropped LSBs cleared).

Sibia. Both operands symmetric ``3n+1``-bit SBR; only all-zero top-slice vectors of the sparser
operand are skipped (no compensation needed); operands stay uncompressed in memory.

Two paths give identical results and counts:

- ``path="slice"`` runs the algorithm (:mod:`panacea.gemm.slice_level`): slices, RLE, skipping,
  compensator; counts come from the decoded streams.
- ``path="fast"`` (default) computes the exact product with one integer GEMM (``torch._int_mm``)
  and derives the counts from the vector masks (:mod:`panacea.gemm.masks`).

The counting rules are in :mod:`panacea.gemm.counts`. Weights can be packed once with
:func:`pack_weights` (what the accelerator does offline); GEMMs accept packed or plain weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from panacea.core.checks import as_int_matrix, check_choice, check_int_range, check_option, check_values_in
from panacea.core.formats import (
    ACT_BITS,
    LO_BITS,
    WEIGHT_BITS,
    act_slice_count,
    weight_qmax,
    weight_slice_count,
    zero_point_ho,
)
from panacea.core.intmm import grouped_matmul
from panacea.core.slicing import act_vector_stored, dbs_truncate, sibia_skip, weight_vector_stored
from panacea.gemm import slice_level
from panacea.gemm.counts import GemmCounts, Shape, assemble
from panacea.gemm.masks import mask_census, operand_mask
from panacea.gemm.weights import PackedWeights, as_packed, pack_weights

__all__ = [
    "GemmCounts",
    "GemmResult",
    "PackedWeights",
    "aqs_counts",
    "aqs_gemm",
    "bitslice_counts",
    "bitslice_gemm",
    "pack_weights",
]

Path = Literal["fast", "slice"]
PATHS = ("fast", "slice")


@dataclass(frozen=True)
class GemmResult:
    """``output``: int64 ``[N, M]``, the exact product; ``counts``: the work it took."""

    output: torch.Tensor
    counts: GemmCounts


def _activations(
    x_q: object, w: PackedWeights, groups: int, lo: int, hi: int, what: str
) -> tuple[torch.Tensor, tuple[int, int]]:
    x = as_int_matrix("x_q", x_q)
    if x.shape[1] != w.values.shape[1]:
        raise ValueError(
            f"x_q [N, K] and w_q [M, K] must share K: x_q has shape {tuple(x.shape)}, w_q has shape {w.shape}"
        )
    if x.shape[1] % groups:
        raise ValueError(f"groups must divide K={x.shape[1]}, got groups={groups}")
    return x, check_values_in("x_q", x, lo, hi, what)


def _aqs_operands(x_q, w_q, zero_point, w_bits, x_bits, lo_bits, vector, index_bits, groups):
    """Validated operands of an AQS-GEMM: ``(x, x_range, packed w, zero_point, x_bits, lo_bits, shape)``."""
    x_bits = check_choice("x_bits", x_bits, ACT_BITS)
    lo_bits = check_choice("lo_bits", lo_bits, LO_BITS)
    groups = check_int_range("groups", groups, 1, 1 << 20)
    w = as_packed(w_q, w_bits, vector, index_bits, bits_name="w_bits")
    x_max = 2**x_bits - 1
    x, x_range = _activations(x_q, w, groups, 0, x_max, f"unsigned {x_bits}-bit activations")
    zero_point = check_int_range("zero_point", zero_point, 0, x_max)
    s = Shape(
        n=x.shape[0],
        m=w.shape[0],
        k=x.shape[1],
        x_slices=act_slice_count(x_bits),
        w_slices=w.slices,
        x_has_top=True,
        w_has_top=w.slices > 1,
        groups=groups,
    )
    return x, x_range, w, zero_point, x_bits, lo_bits, s


def _aqs_counts(s: Shape, x: torch.Tensor, w: PackedWeights, zero_point: int, x_bits: int, lo_bits: int) -> GemmCounts:
    """The fast path's counts: from the activations' stored-vector mask and the packed weights'."""
    x_mask = operand_mask(
        act_vector_stored(x, zero_point, x_bits, lo_bits, w.vector), s.n, w.vector, w.index_bits, rle=True
    )
    census = mask_census(s, x_mask, w.mask, x_skipped=True, w_skipped=True)
    r = zero_point_ho(zero_point, x_bits, lo_bits)
    return assemble(s, census, compensate=r != 0, compressed_storage=True, skipped="both")


def aqs_gemm(
    x_q: torch.Tensor,
    w_q: torch.Tensor | PackedWeights,
    zero_point: int,
    *,
    w_bits: int | None = None,
    x_bits: int = 8,
    lo_bits: int = 4,
    vector: int | None = None,
    index_bits: int | None = None,
    groups: int = 1,
    path: Path = "fast",
) -> GemmResult:
    """Panacea's AQS-GEMM of unsigned activations ``x_q[N, K]`` and signed weights ``w_q[M, K]``.

    ``zero_point`` is the activations' (possibly ZPM-manipulated) zero point; it decides which
    activation vectors are compressed (``r = zero_point >> ho_shift``) and the compensation.
    ``lo_bits`` (4/5/6) is the DBS type 1/2/3. ``output`` is ``x~ @ w_q.T`` exactly, int64, where
    ``x~ = x_q`` for type 1 and ``x_q`` with ``lo_bits - 4`` LSBs cleared otherwise.

    ``w_bits`` (default 7), ``vector`` (slice-vector length ``v``, default 4) and ``index_bits``
    (RLE index width ``b``, default 4) describe the weights; packed weights (:func:`pack_weights`)
    carry their own, and any that is given must match. ``groups`` > 1: ``groups`` independent
    GEMMs stacked along K (a grouped convolution in im2col layout), output ``[N, groups * M]``.
    ``path`` picks the fast path or the slice-level one (same results).
    """
    path = check_option("path", path, PATHS)
    x, x_range, w, zero_point, x_bits, lo_bits, s = _aqs_operands(
        x_q, w_q, zero_point, w_bits, x_bits, lo_bits, vector, index_bits, groups
    )
    if path == "slice":
        r = zero_point_ho(zero_point, x_bits, lo_bits)
        out, census = slice_level.aqs(
            s, x, w.values, r=r, x_bits=x_bits, lo_bits=lo_bits, w_bits=w.bits, vector=w.vector, index_bits=w.index_bits
        )
        return GemmResult(out, assemble(s, census, compensate=r != 0, compressed_storage=True, skipped="both"))
    # x~ drops LSBs; truncation is monotonic, so x~ lies in the truncated bounds of x
    x_tilde_range = (dbs_truncate(x_range[0], lo_bits, x_bits), dbs_truncate(x_range[1], lo_bits, x_bits))
    out = grouped_matmul(
        dbs_truncate(x, lo_bits, x_bits),
        w.values,
        groups=s.groups,
        a_range=x_tilde_range,
        b_range=w.value_range,
        b_rowsum=w.row_sums,
    )
    return GemmResult(out, _aqs_counts(s, x, w, zero_point, x_bits, lo_bits))


def aqs_counts(
    x_q: torch.Tensor, w: PackedWeights, zero_point: int, *, x_bits: int = 8, lo_bits: int = 4, groups: int = 1
) -> GemmCounts:
    """The counts of :func:`aqs_gemm` on packed weights (its other arguments as it takes them)
    without the product: for a caller that forms the product another way (quantized inference,
    which dequantizes it straight away)."""
    x, _, w, zero_point, x_bits, lo_bits, s = _aqs_operands(
        x_q, w, zero_point, None, x_bits, lo_bits, None, None, groups
    )
    return _aqs_counts(s, x, w, zero_point, x_bits, lo_bits)


def _sibia_operands(x_q, w_q, bits, x_bits, vector, index_bits, groups):
    """Validated operands of Sibia's GEMM: ``(x, x_range, packed w, x_bits, shape)``."""
    groups = check_int_range("groups", groups, 1, 1 << 20)
    w = as_packed(w_q, bits, vector, index_bits, bits_name="bits")
    x_bits = w.bits if x_bits is None else check_choice("x_bits", x_bits, WEIGHT_BITS)
    q = weight_qmax(x_bits)
    x, x_range = _activations(x_q, w, groups, -q, q, f"narrow-range signed {x_bits}-bit activations")
    x_slices = weight_slice_count(x_bits)
    s = Shape(
        n=x.shape[0],
        m=w.shape[0],
        k=x.shape[1],
        x_slices=x_slices,
        w_slices=w.slices,
        x_has_top=x_slices > 1,
        w_has_top=w.slices > 1,
        groups=groups,
    )
    return x, x_range, w, x_bits, s


def _sibia_counts(s: Shape, x: torch.Tensor, w: PackedWeights, x_bits: int) -> GemmCounts:
    """The fast path's counts: SBR on both operands, the sparser one's stored vectors skipped."""
    x_stored = weight_vector_stored(x, x_bits, w.vector)  # SBR on both operands
    skip = sibia_skip(x_stored, w.mask.stored)
    x_mask = operand_mask(x_stored, s.n, w.vector, w.index_bits, rle=skip == "activations")
    census = mask_census(s, x_mask, w.mask, x_skipped=skip == "activations", w_skipped=skip == "weights")
    return assemble(s, census, compensate=False, compressed_storage=False, skipped=skip)


def bitslice_gemm(
    x_q: torch.Tensor,
    w_q: torch.Tensor | PackedWeights,
    *,
    bits: int | None = None,
    x_bits: int | None = None,
    vector: int | None = None,
    index_bits: int | None = None,
    groups: int = 1,
    path: Path = "fast",
) -> GemmResult:
    """Sibia's bit-slice GEMM of symmetric signed activations and weights, both in SBR.

    ``bits`` (default 7, or the packed weights') is the weights' width and ``x_bits`` the
    activations' (default: the weights'), each in {4, 7, 10}. Only the all-zero top-slice vectors
    of the sparser operand (by measured vector sparsity; ties go to the activations) are skipped,
    without compensation; both operands stay uncompressed in memory (``act_bits``/``weight_bits``
    are dense), and ``*_index_bits`` is the RLE index stream the core uses for the skipped operand.
    ``output`` is ``x_q @ w_q.T`` exactly. ``vector``, ``index_bits`` and ``groups`` as in
    :func:`aqs_gemm`.
    """
    path = check_option("path", path, PATHS)
    x, x_range, w, x_bits, s = _sibia_operands(x_q, w_q, bits, x_bits, vector, index_bits, groups)
    if path == "slice":
        out, census, skip = slice_level.sibia(
            s, x, w.values, x_bits=x_bits, w_bits=w.bits, vector=w.vector, index_bits=w.index_bits
        )
        return GemmResult(out, assemble(s, census, compensate=False, compressed_storage=False, skipped=skip))
    out = grouped_matmul(x, w.values, groups=s.groups, a_range=x_range, b_range=w.value_range, b_rowsum=w.row_sums)
    return GemmResult(out, _sibia_counts(s, x, w, x_bits))


def bitslice_counts(x_q: torch.Tensor, w: PackedWeights, *, x_bits: int | None = None, groups: int = 1) -> GemmCounts:
    """The counts of :func:`bitslice_gemm` on packed weights (its other arguments as it takes
    them) without the product."""
    x, _, w, x_bits, s = _sibia_operands(x_q, w, None, x_bits, None, None, groups)
    return _sibia_counts(s, x, w, x_bits)
