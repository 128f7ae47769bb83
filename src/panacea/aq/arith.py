"""Products of arbitrarily quantized operands: the LUT products and the bit-serial MAC
(the JSSC 2024 arbitrary-quantization accelerator).

Two readings of the same integer GEMM ``y[n, m] = sum_k A[x[n, k]] * W[w[m, k]]`` (codes ``x``,
``w``; codebooks ``A``, ``W``), both exact:

- :func:`lut_gemm`: every pair of codes indexes the product table :func:`code_products` of the two
  codebooks (what the accelerator's LUT is reconfigured to compute for a layer);
- :func:`bitserial_gemm`: the operand whose codebook needs fewer bit-serial steps is *serial*: each
  of its levels is fed as the signed powers of two of :func:`~panacea.aq.codebook.digits`, one per
  cycle, each shifting and adding the other (*parallel*) operand's level. A multiplication takes
  ``steps`` cycles of the serial codebook, whatever the parallel one's width (a 2-bit x 8-bit
  product is not padded to 8 x 8); multiplications by code 0 are skipped (zero-elimination).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from panacea.aq.codebook import LEVEL_MAX, LEVEL_MIN, Codebook, decode, digits, serial_operand
from panacea.core.checks import as_int_matrix, check_values_in
from panacea.core.intmm import int_matmul

_GRID = (LEVEL_MIN, LEVEL_MAX)


def code_products(a: Codebook, w: Codebook) -> torch.Tensor:
    """``P[i, j] = A[i] * W[j]`` (int32 ``[2^a.bits, 2^w.bits]``), formed the way the engine forms
    it: the shift-and-adds of ``A[i]`` by the powers of two of ``W[j]``'s bit-serial LUT."""
    return (a.levels.to(torch.int32)[:, None, None] * digits(w).to(torch.int32)[None]).sum(-1)


def _codes(name: str, codes: object, cb: Codebook) -> torch.Tensor:
    t = as_int_matrix(name, codes)
    check_values_in(name, t, 0, 2**cb.bits - 1, f"{cb.bits}-bit codes")
    return t.to(torch.int64)


def _check_k(x: torch.Tensor, w: torch.Tensor) -> None:
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x_codes [N, K] and w_codes [M, K] must share K, got {tuple(x.shape)} and {tuple(w.shape)}")


def lut_gemm(x_codes: torch.Tensor, x_cb: Codebook, w_codes: torch.Tensor, w_cb: Codebook) -> torch.Tensor:
    """``y[n, m] = sum_k P[x[n, k], w[m, k]]`` with ``P`` = :func:`code_products` (int64 ``[N, M]``).

    Vectorized by weight code: ``sum_c P[x, c] @ [w == c]^T`` (one exact GEMM per code)."""
    x, w = _codes("x_codes", x_codes, x_cb), _codes("w_codes", w_codes, w_cb)
    _check_k(x, w)
    table = code_products(x_cb, w_cb)
    limit = int(table.abs().max())
    y = torch.zeros(x.shape[0], w.shape[0], dtype=torch.int64)
    for c in torch.unique(w).tolist():
        y += int_matmul(table[:, c][x], (w == c).to(torch.int8), a_range=(-limit, limit), b_range=(0, 1))
    return y


@dataclass(frozen=True)
class BitSerialResult:
    """``output``: int64 ``[N, M]``; ``serial``: the operand fed bit by bit; ``steps``: cycles per
    multiplication (its codebook's); ``bit_steps``: steps actually processed (multiplications whose
    serial code is not 0, times ``steps``); ``skipped``: multiplications zero-elimination removed."""

    output: torch.Tensor
    serial: Literal["weights", "activations"]
    steps: int
    bit_steps: int
    skipped: int


def bitserial_gemm(x_codes: torch.Tensor, x_cb: Codebook, w_codes: torch.Tensor, w_cb: Codebook) -> BitSerialResult:
    """The GEMM as the bit-serial engine computes it (module docstring), step by step: step ``t``
    adds ``parallel @ term_t^T`` where ``term_t`` holds each serial code's ``t``-th signed power of two."""
    x, w = _codes("x_codes", x_codes, x_cb), _codes("w_codes", w_codes, w_cb)
    _check_k(x, w)
    serial = serial_operand(x_cb.steps, w_cb.steps)
    par, ser, cb = (decode(x, x_cb), w, w_cb) if serial == "weights" else (decode(w, w_cb), x, x_cb)
    table = digits(cb).to(torch.int64)
    acc = torch.zeros(par.shape[0], ser.shape[0], dtype=torch.int64)
    for t in range(cb.steps):
        acc += int_matmul(par, table[:, t][ser], a_range=_GRID, b_range=_GRID)
    nonzero = int((ser != 0).sum()) * par.shape[0]
    total = x.shape[0] * w.shape[0] * x.shape[1]
    return BitSerialResult(
        output=acc if serial == "weights" else acc.t().contiguous(),
        serial=serial,
        steps=cb.steps,
        bit_steps=nonzero * cb.steps,
        skipped=total - nonzero,
    )
