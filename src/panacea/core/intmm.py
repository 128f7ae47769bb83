"""Exact integer matrix products on the fastest exact back end of each device.

``int_matmul(a, b)`` returns ``a @ b.T`` in int64 for integer operands of any width, exactly;
:func:`exact_matmul` the same with an offset subtracted from ``a``, in the dtype the back end forms
it in; :func:`grouped_matmul` GEMMs stacked along K. Three back ends compute them
(:mod:`panacea.core.intmm_backends`: ``int8`` through ``torch._int_mm``, ``float32`` and
``float64`` GEMMs split along K so every partial sum is exact), and the one of each device is chosen
at first use, self-checked and timed (:mod:`panacea.core.intmm_choice`; ``PANACEA_INTMM`` forces
one). Every back end returns the same integers, so the choice changes speed, never a result.
Operands on a CUDA device (``--device cuda``) run there.
"""

from __future__ import annotations

import torch

from panacea.core.intmm_backends import float_matmul, matmul_by
from panacea.core.intmm_choice import choose_backend, is_exact


def exact_matmul(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    a_range: tuple[int, int],
    b_range: tuple[int, int],
    offset: int = 0,
    b_rowsum: torch.Tensor | None = None,
    groups: int = 1,
) -> torch.Tensor:
    """Exact ``(a - offset) @ b.T`` for integer ``a[N, K]``, ``b[M, K]`` with values in the given
    ranges, in the dtype the back end forms it in (int32, int64, float32 or float64; every value
    exact): for callers that go on in floating point, such as dequantization, which then skip a
    conversion and a pass over the output. The float back ends centre ``a`` on ``offset`` inside
    the GEMM, so the offset costs nothing there.

    The ranges must contain every value (callers pass validated bounds); they choose the digit
    split, the overflow-free K chunk, and whether the result may be formed in int32 or float32.
    ``b_rowsum`` (``b.sum(1)`` as int64), when the caller has it, saves computing it. Runs on the
    back end of ``a``'s device (:func:`choose_backend`).

    ``groups`` > 1: ``groups`` GEMMs stacked along K, ``a[N, G*K]``, ``b[M, G*K]`` -> ``[N, G*M]``:
    column block ``g`` of ``a`` meets only column block ``g`` of ``b``, and output column
    ``g*M + m`` is group ``g``'s output ``m`` (the channel order of a grouped convolution). They
    are many small GEMMs (``K = 9`` for a depthwise 3x3), so one batched float GEMM computes them
    all (there is no batched ``_int_mm``): in float64 where that is the device's back end, else in
    float32 (chunked as :func:`float_plan` says).
    """
    choice = choose_backend(a.device)
    if groups == 1:
        return matmul_by(choice.backend, a, b, a_range, b_range, b_rowsum, offset)
    float32 = choice.backend == "float32" or (choice.backend == "int8" and is_exact("float32", choice.device))
    n, m = a.shape[0], b.shape[0]
    k = a.shape[1] // groups
    out = float_matmul(
        a.reshape(n, groups, k).transpose(0, 1),
        b.reshape(m, groups, k).transpose(0, 1),
        a_range,
        b_range,
        None,
        torch.float32 if float32 else torch.float64,
        offset,
    )
    return out.transpose(0, 1).reshape(n, groups * m)


def int_matmul(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    a_range: tuple[int, int],
    b_range: tuple[int, int],
    b_rowsum: torch.Tensor | None = None,
) -> torch.Tensor:
    """Exact ``a @ b.T`` as int64 (:func:`exact_matmul` without an offset)."""
    return exact_matmul(a, b, a_range=a_range, b_range=b_range, b_rowsum=b_rowsum).to(torch.int64)


def grouped_matmul(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    groups: int,
    a_range: tuple[int, int],
    b_range: tuple[int, int],
    b_rowsum: torch.Tensor | None = None,
) -> torch.Tensor:
    """Exact products of ``groups`` GEMMs stacked along K (:func:`exact_matmul`'s ``groups``) as
    int64: ``a[N, G*K]``, ``b[M, G*K]`` -> ``[N, G*M]``."""
    out = exact_matmul(a, b, a_range=a_range, b_range=b_range, b_rowsum=b_rowsum, groups=groups)
    return out.to(torch.int64)
