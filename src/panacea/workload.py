"""A GEMM of a real model run, in the terms the accelerator cost models consume.

This module is the meeting point of the model side (capture) and the hardware side (cost models):
it depends on neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from panacea.gemm import GemmCounts


@dataclass(frozen=True)
class Workload:
    """One call of one GEMM: ``groups`` GEMMs ``[n, k] x [m, k]^T`` (stacked along K), their
    number formats, the real top-slice vector masks of both operands and the GEMM's counts.

    ``scheme``: ``"asym"`` (Panacea: unsigned ``x_bits`` activations with ``zero_point`` and DBS
    ``lo_bits``) or ``"sym"`` (Sibia: signed ``x_bits``-bit SBR activations, ``zero_point`` None).
    ``act_stored``: bool ``[ceil(n / vector), groups * k]``, ``True`` where the activation
    top-slice vector is not compressible; ``weight_stored``: bool ``[ceil(m / vector), groups * k]``
    (no rows for 4-bit weights, which have no high-order slice).
    """

    name: str
    scheme: Literal["asym", "sym"]
    n: int
    k: int
    m: int
    groups: int
    x_bits: int
    w_bits: int
    lo_bits: int
    zero_point: int | None
    vector: int
    index_bits: int
    act_stored: torch.Tensor
    weight_stored: torch.Tensor
    counts: GemmCounts

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the GEMM (element products, not slice products)."""
        return self.groups * self.n * self.m * self.k
