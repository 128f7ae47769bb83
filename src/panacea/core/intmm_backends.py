"""The three exact integer GEMM back ends (:mod:`panacea.core.intmm` says which runs where).

``(a - offset) @ b.T``, exactly, for integer operands with values in given ranges:

- ``int8``: ``torch._int_mm`` (int8 x int8 -> int32): oneDNN with VNNI or AMX on x86 CPUs, cuBLASLt
  on CUDA. Each operand is written as balanced base-256 int8 digits (one digit for 8-bit values,
  two for 10- or 12-bit ones), unsigned ``a`` is first centred (``a - c``, with ``c * rowsum(b)``
  added back) and ``K`` is split so that no int32 partial sum can overflow. On x86 CPUs without
  AVX-512 VNNI (AVX2: most AMD and laptop CPUs) torch has no fast kernel for it and runs a
  reference loop 12-47x slower than a float32 GEMM of the same shape.
- ``float32``: a float32 GEMM of the integer values. It is exact as long as every partial sum is an
  integer of at most 2^24, so ``K`` is split into chunks of ``2^24 // max|a b|``, the bound taken
  from the operands' ranges (unsigned ``a`` centred first when that saves chunks), and the chunks
  are summed exactly in float64. Centred 8-bit activations (``|x| <= 128``) times 7-bit weights
  (``|w| <= 63``) give chunks of 2,080 (one GEMM for every layer of the shipped models); 12-bit
  activations with 7-bit weights chunks of 130. Where a chunk would be shorter than
  :data:`MIN_FLOAT32_CHUNK` (12-bit activations with 10-bit weights: 16) the product runs in
  float64 instead, which is then cheaper than the many short GEMMs.
- ``float64``: the same with chunks of ``2^53 // max|a b|``: one GEMM for any K of a real model.

CUDA's shape rules for ``_int_mm`` (more than 16 rows, K and M multiples of 8) are met by padding
with zeros, which adds nothing to any product. ``torch._int_mm`` is also wrong for a size-1 K on
torch 2.13 CPU (cf. pytorch/pytorch#195066): that case is an outer product.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from panacea.core.tensors import row_major

Backend = Literal["int8", "float32", "float64"]
BACKENDS: tuple[Backend, ...] = ("int8", "float32", "float64")
ENV_VAR = "PANACEA_INTMM"
# Shorter float32 chunks cost more than one float64 GEMM: on a 2048 x 1536 x 576 product, chunks of
# 64 took 1.5x one float32 GEMM and a float64 GEMM 1.8x; chunks of 16, 2.9x (AMD EPYC, 2 cores).
MIN_FLOAT32_CHUNK = 64

_INT32_MAX = 2**31 - 1
_EXACT = {torch.float32: 2**24, torch.float64: 2**53}  # every integer up to this is representable


# --------------------------------------------------------------------------- the int8 back end


def _int_mm(a8: torch.Tensor, b8: torch.Tensor) -> torch.Tensor:
    """``torch._int_mm(a8, b8.T)`` (int32), CUDA operands padded to the shapes CUDA takes."""
    return padded_int_mm(a8, b8) if a8.device.type == "cuda" else torch._int_mm(a8, b8.t())


def padded_int_mm(a8: torch.Tensor, b8: torch.Tensor) -> torch.Tensor:
    """``torch._int_mm(a8, b8.T)`` on operands zero-padded to more than 16 rows and K, M multiples
    of 8 (CUDA's rules for it), the result cut back; zeros add nothing to any product."""
    n, k = a8.shape
    m = b8.shape[0]
    pad_n, pad_k, pad_m = max(17 - n, 0), -k % 8, -m % 8
    if pad_n or pad_k:
        a8 = torch.nn.functional.pad(a8, (0, pad_k, 0, pad_n))
    if pad_m or pad_k:
        b8 = torch.nn.functional.pad(b8, (0, pad_k, 0, pad_m))
    return torch._int_mm(a8.contiguous(), b8.contiguous().t())[:n, :m]


def _digits(t: torch.Tensor, lo: int, hi: int) -> list[tuple[torch.Tensor, int, int]]:
    """Balanced base-256 digits of ``t`` (values in ``[lo, hi]``): ``[(int8 digit, shift, max |digit|)]``."""
    if lo >= -128 and hi <= 127:
        return [(t if t.dtype == torch.int8 else t.to(torch.int8), 0, max(-lo, hi))]
    rest = t.to(torch.int32)
    out, shift = [], 0
    while not (lo >= -128 and hi <= 127):
        d = ((rest + 128) & 255) - 128
        out.append((d.to(torch.int8), shift, 128))
        rest = (rest - d) >> 8
        lo, hi = -(-(lo - 127) // 256), (hi + 128) // 256
        shift += 8
    out.append((rest.to(torch.int8), shift, max(-lo, hi)))
    return out


def _centre(a: torch.Tensor, lo: int, hi: int) -> tuple[torch.Tensor, int, int, int]:
    """Shift ``a`` towards zero when that saves digits: returns (a - c, lo - c, hi - c, c)."""
    if lo >= -128 and hi <= 127:
        return a, lo, hi, 0
    c = (lo + hi + 1) // 2
    if a.dtype == torch.uint8 and c == 128:  # x - 128 for uint8 is a sign-bit flip: one cheap pass
        return (a ^ 128).view(torch.int8), lo - c, hi - c, c
    return a.to(torch.int32) - c, lo - c, hi - c, c


def _mm_int8(a8: torch.Tensor, b8: torch.Tensor, bound: int) -> torch.Tensor:
    """``a8 @ b8.T`` of int8 digits: int32 when no partial sum can overflow, else int64 over K chunks.

    ``bound`` is the largest ``|a8 * b8|``.
    """
    a8, b8 = row_major(a8), row_major(b8)
    k = a8.shape[1]
    if k == 1:  # _int_mm is wrong for K = 1 on torch 2.13 CPU: the product is an outer product
        return a8.to(torch.int32) * b8.to(torch.int32).t()
    chunk = max(2, _INT32_MAX // max(bound, 1))
    if k <= chunk:
        return _int_mm(a8, b8)
    out = torch.zeros((a8.shape[0], b8.shape[0]), dtype=torch.int64, device=a8.device)
    for k0 in range(0, k, chunk):  # only for K > 131072 at worst: a handful of chunks
        out += _mm_int8(a8[:, k0 : k0 + chunk], b8[:, k0 : k0 + chunk], bound)
    return out


def _rowsum(b_digits: list[tuple[torch.Tensor, int, int]]) -> torch.Tensor:
    """``sum_k b[m, k]`` as int64 from b's digits, by matrix-vector products (far cheaper than ``sum``)."""
    k = b_digits[0][0].shape[1]
    device = b_digits[0][0].device
    ones = torch.ones((1, k), dtype=torch.int8, device=device)
    total = torch.zeros(b_digits[0][0].shape[0], dtype=torch.int64, device=device)
    for d, shift, bound in b_digits:
        total += _mm_int8(ones, d, bound)[0].to(torch.int64) << shift
    return total


def _matmul_int8(a, b, a_range, b_range, b_rowsum, offset: int) -> torch.Tensor:
    """Exact ``(a - offset) @ b.T`` through ``_int_mm``: int32 when every partial sum and the
    result fit it, else int64."""
    a, a_lo, a_hi, centre = _centre(a, *a_range)
    a_digits = _digits(a, a_lo, a_hi)
    b_digits = _digits(b, *b_range)
    correction = centre - offset  # (a - offset) b = (a - centre) b + (centre - offset) rowsum(b)
    k = a.shape[1]
    fits = k * max(_bound((a_lo, a_hi), b_range), _bound((a_range[0] - offset, a_range[1] - offset), b_range))
    if len(a_digits) == len(b_digits) == 1 and fits <= _INT32_MAX:
        # The whole result, correction included, fits int32: correct in place.
        (da, _, ma), (db, _, mb) = a_digits[0], b_digits[0]
        out = _mm_int8(da, db, ma * mb)
        if correction:
            rowsum = _rowsum(b_digits) if b_rowsum is None else b_rowsum
            out += (correction * rowsum).to(out.dtype)
        return out
    out = None
    for da, sa, ma in a_digits:
        for db, sb, mb in b_digits:
            part = _mm_int8(da, db, ma * mb).to(torch.int64)
            if sa + sb:
                part *= 1 << (sa + sb)
            out = part if out is None else out.add_(part)
    if correction:
        out += correction * (_rowsum(b_digits) if b_rowsum is None else b_rowsum)
    return out


# --------------------------------------------------------------------------- the float back ends


def _bound(a_range: tuple[int, int], b_range: tuple[int, int]) -> int:
    """The largest ``|a * b|`` of values in the two ranges."""
    return max(map(abs, a_range)) * max(map(abs, b_range))


@dataclass(frozen=True)
class FloatPlan:
    """How a float GEMM computes one exact product: ``a - centre`` in ``dtype``, ``K`` in chunks
    of at most ``chunk`` (every partial sum of a chunk at most ``2^24`` in float32, ``2^53`` in
    float64)."""

    dtype: torch.dtype
    centre: int
    chunk: int

    def chunks(self, k: int) -> float:
        """GEMMs of a product over ``k`` (``inf`` where one product alone is not exact)."""
        return max(1, math.ceil(k / self.chunk)) if self.chunk else math.inf


def float_plan(
    k: int, a_range: tuple[int, int], b_range: tuple[int, int], dtype: torch.dtype, centre: int | None = None
) -> FloatPlan:
    """The plan of an exact ``[N, k] x [k, M]`` product in ``dtype`` for ``a``, ``b`` in the given
    ranges. ``centre``: the value subtracted from ``a``; None: its range's middle where that needs
    fewer chunks, else 0. A float32 plan whose chunk would be shorter than :data:`MIN_FLOAT32_CHUNK`
    (and than ``k``) is a float64 plan."""

    def plan_at(c: int) -> FloatPlan:
        return FloatPlan(dtype, c, _EXACT[dtype] // max(_bound((a_range[0] - c, a_range[1] - c), b_range), 1))

    if centre is None:
        plain, centred = plan_at(0), plan_at((a_range[0] + a_range[1] + 1) // 2)
        plan = centred if centred.chunks(k) < plain.chunks(k) else plain
    else:
        plan = plan_at(centre)
    if dtype == torch.float32 and plan.chunk < min(k, MIN_FLOAT32_CHUNK):
        return float_plan(k, a_range, b_range, torch.float64, centre)
    if plan.chunk == 0:
        raise ValueError(
            f"products of values in {a_range} and {b_range} exceed 2^53: no float GEMM is exact; use {ENV_VAR}=int8"
        )
    return plan


def _widest(k: int, a_range: tuple[int, int], b_range: tuple[int, int]) -> torch.dtype:
    """float64 where every sum of ``k`` products is exact in it, else int64."""
    return torch.float64 if k * _bound(a_range, b_range) < _EXACT[torch.float64] else torch.int64


def float_matmul(a, b, a_range, b_range, b_rowsum, dtype: torch.dtype, offset: int) -> torch.Tensor:
    """Exact ``(a - offset) @ b.T`` by float GEMMs (:func:`float_plan`, centred on ``offset`` unless
    it is 0), batched for 3-D operands: float32 from one GEMM, else float64 (int64 past 2^53)."""
    k = a.shape[-1]
    plan = float_plan(k, a_range, b_range, dtype, offset or None)

    def operands(k0: int, k1: int) -> tuple[torch.Tensor, torch.Tensor]:  # columns k0:k1 in the plan's dtype
        af = a[..., k0:k1].to(plan.dtype, copy=bool(plan.centre))  # a copy of its own to centre in place
        return (af.sub_(plan.centre) if plan.centre else af), b[..., k0:k1].to(plan.dtype).transpose(-2, -1)

    if plan.chunk >= k:
        af, bt = operands(0, k)
        out = af @ bt
    else:  # chunks of even length, each converted on its own: one chunk's float copy at a time
        wide = _widest(k, (a_range[0] - plan.centre, a_range[1] - plan.centre), b_range)
        step = math.ceil(k / plan.chunks(k))
        out = None
        for k0 in range(0, k, step):
            af, bt = operands(k0, k0 + step)
            part = af @ bt
            del af, bt
            if out is None:
                out = part.to(wide)
            else:  # float64 adds the float32 chunk exactly in place; int64 needs it converted
                out.add_(part if wide == torch.float64 else part.to(wide))
    correction = plan.centre - offset
    if correction:
        out = out.to(_widest(k, (a_range[0] - offset, a_range[1] - offset), b_range))
        rowsum = b.sum(-1, dtype=torch.int64) if b_rowsum is None else b_rowsum
        out += (correction * rowsum).to(out.dtype).unsqueeze(-2)
    return out


# --------------------------------------------------------------------------- one product by a named back end


def matmul_by(backend: Backend, a, b, a_range, b_range, b_rowsum=None, offset: int = 0) -> torch.Tensor:
    """Exact ``(a - offset) @ b.T`` by ``backend``, in the dtype it forms it in."""
    if backend == "int8":
        return _matmul_int8(a, b, a_range, b_range, b_rowsum, offset)
    dtype = torch.float32 if backend == "float32" else torch.float64
    return float_matmul(a, b, a_range, b_range, b_rowsum, dtype, offset)
