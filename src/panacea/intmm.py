"""Exact integer matrix products.

``int_matmul(a, b)`` returns ``a @ b.T`` in int64 for integer operands of any width, exactly.

Fast path: ``torch._int_mm`` (int8 x int8 -> int32, oneDNN with VNNI on x86). Each operand is
written as balanced base-256 int8 digits (one digit for 8-bit values, two for 10- or 12-bit ones),
unsigned ``a`` is first centred (``a - c``, with ``c * rowsum(b)`` added back) and ``K`` is split so
that no int32 partial sum can overflow. For 8-bit unsigned activations and weights of at most 8
bits this is one ``_int_mm`` call plus one pass over the output.

``_int_mm`` is trusted only after a self-check on this machine: CPU kernels without VNNI have been
seen to saturate int16 intermediates on full-range int8 (huggingface/optimum-quanto#309), and a
size-1 K gives wrong results on torch 2.13 (cf. pytorch/pytorch#195066). If the check fails we use
a float64 GEMM, which is exact here because every partial sum is an integer below 2^53.

Operands on a CUDA device (``--device cuda``) run there: ``_int_mm`` is self-checked on the device
too, and CUDA's shape rules for it (more than 16 rows, K and M multiples of 8) are met by padding
with zeros, which adds nothing to any product.
"""

from __future__ import annotations

import functools

import torch

from panacea._tensors import row_major

_INT32_MAX = 2**31 - 1
_FLOAT64_EXACT = 2**53


@functools.cache
def int_mm_is_exact(device: str = "cpu") -> bool:
    """Whether ``torch._int_mm`` returns exact results for full-range int8 on this machine's
    ``device`` (``cpu`` or ``cuda``).

    Probes the extremes that break int16-saturating kernels (127 x -128 pairs and friends) and
    random operands, on a matrix-vector and two matrix-matrix shapes.
    """
    gen = torch.Generator().manual_seed(0)
    for n, k, m in ((1, 64, 1), (16, 64, 24), (64, 256, 48)):
        cases = [(torch.full((n, k), va), torch.full((m, k), vb)) for va in (127, -128) for vb in (127, -128)]
        cases.append((torch.randint(-128, 128, (n, k), generator=gen), torch.randint(-128, 128, (m, k), generator=gen)))
        for a, b in cases:
            try:
                got = _int_mm(a.to(torch.int8).to(device), b.to(torch.int8).to(device)).cpu()
            except RuntimeError:
                return False
            if not torch.equal(got.to(torch.int64), a @ b.t()):
                return False
    return True


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


def _matmul_float64(a: torch.Tensor, b: torch.Tensor, bound: int) -> torch.Tensor:
    """Exact ``a @ b.T`` through float64: K is chunked so every partial sum stays below 2^53."""
    chunk = max(1, (_FLOAT64_EXACT - 1) // max(bound, 1))
    a64, b64 = a.to(torch.float64), b.to(torch.float64)
    out = torch.zeros((a.shape[0], b.shape[0]), dtype=torch.int64, device=a.device)
    for k0 in range(0, a.shape[1], chunk):
        out += (a64[:, k0 : k0 + chunk] @ b64[:, k0 : k0 + chunk].t()).to(torch.int64)
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


def int_matmul(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    a_range: tuple[int, int],
    b_range: tuple[int, int],
    b_rowsum: torch.Tensor | None = None,
) -> torch.Tensor:
    """Exact ``a @ b.T`` as int64 for integer ``a[N, K]``, ``b[M, K]`` with values in the given ranges.

    The ranges must contain every value (callers pass validated bounds); they choose the digit
    split, the overflow-free K chunk, and whether the result may be formed in int32. ``b_rowsum``
    (``b.sum(1)`` as int64), when the caller has it, saves computing it.
    """
    bound = max(map(abs, a_range)) * max(map(abs, b_range))
    if not int_mm_is_exact(a.device.type):
        return _matmul_float64(a, b, bound)
    a, a_lo, a_hi, centre = _centre(a, *a_range)
    a_digits = _digits(a, a_lo, a_hi)
    b_digits = _digits(b, *b_range)
    if len(a_digits) == len(b_digits) == 1 and a.shape[1] * bound <= _INT32_MAX:
        # The whole result, correction included, fits int32: correct in place, widen once.
        (da, _, ma), (db, _, mb) = a_digits[0], b_digits[0]
        out = _mm_int8(da, db, ma * mb)
        if centre:
            rowsum = _rowsum(b_digits) if b_rowsum is None else b_rowsum
            out += (centre * rowsum).to(out.dtype)
        return out.to(torch.int64)
    out = None
    for da, sa, ma in a_digits:
        for db, sb, mb in b_digits:
            part = _mm_int8(da, db, ma * mb).to(torch.int64)
            if sa + sb:
                part *= 1 << (sa + sb)
            out = part if out is None else out.add_(part)
    if centre:
        out += centre * (_rowsum(b_digits) if b_rowsum is None else b_rowsum)
    return out


def int_bmm(a: torch.Tensor, b: torch.Tensor, *, a_range: tuple[int, int], b_range: tuple[int, int]) -> torch.Tensor:
    """Exact batched ``a @ b.transpose(1, 2)`` as int64 for ``a[G, N, K]``, ``b[G, M, K]``.

    Grouped convolutions are many small GEMMs (``K = 9`` for a depthwise 3x3): one float64 batched
    GEMM computes them all, exactly, with K chunked so every partial sum stays below 2^53.
    """
    bound = max(map(abs, a_range)) * max(map(abs, b_range))
    chunk = max(1, (_FLOAT64_EXACT - 1) // max(bound, 1))
    a64, b64 = a.to(torch.float64), b.to(torch.float64)
    out = torch.zeros((a.shape[0], a.shape[1], b.shape[1]), dtype=torch.int64, device=a.device)
    for k0 in range(0, a.shape[2], chunk):
        out += torch.bmm(a64[:, :, k0 : k0 + chunk], b64[:, :, k0 : k0 + chunk].transpose(1, 2)).to(torch.int64)
    return out


def grouped_matmul(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    groups: int,
    a_range: tuple[int, int],
    b_range: tuple[int, int],
    b_rowsum: torch.Tensor | None = None,
) -> torch.Tensor:
    """Exact products of ``groups`` GEMMs stacked along K: ``a[N, G*K]``, ``b[M, G*K]`` -> ``[N, G*M]``.

    Column block ``g`` of ``a`` meets only column block ``g`` of ``b``; output column ``g*M + m``
    is group ``g``'s output ``m`` (the channel order of a grouped convolution).
    """
    if groups == 1:
        return int_matmul(a, b, a_range=a_range, b_range=b_range, b_rowsum=b_rowsum)
    n, m = a.shape[0], b.shape[0]
    k = a.shape[1] // groups
    out = int_bmm(
        a.reshape(n, groups, k).transpose(0, 1),
        b.reshape(m, groups, k).transpose(0, 1),
        a_range=a_range,
        b_range=b_range,
    )
    return out.transpose(0, 1).reshape(n, groups * m)
