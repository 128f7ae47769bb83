"""The contract between the model side (capture) and the hardware side (cost models): one GEMM of a
real model run, in the terms the accelerator cost models consume.

These types hold data and say what follows from it; they run no kernel (the builders that do are
:mod:`panacea.workload.build`, the file format is :mod:`panacea.workload.codec`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch

from panacea.aq.codebook import serial_operand

if TYPE_CHECKING:
    from panacea.gemm import GemmCounts


def _stored_fraction(stored: torch.Tensor) -> float:
    """Fraction of a top-slice vector mask that is stored (0 for an operand without a top slice), a
    NumPy float: the mapping search rounds it, and NumPy's rounding of a tie differs from Python's."""
    return np.count_nonzero(stored.numpy()) / stored.numel() if stored.numel() else 0.0


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

    @property
    def formats(self) -> tuple:
        """The operands' number formats and storage besides their widths: scheme, ``lo_bits``,
        zero point, slice vector length and RLE index width."""
        return (self.scheme, self.lo_bits, self.zero_point, self.vector, self.index_bits)

    @property
    def densities(self) -> tuple[float, float]:
        """Fraction of the activations' and of the weights' top-slice vectors that are stored."""
        return (_stored_fraction(self.act_stored), _stored_fraction(self.weight_stored))

    def first_channels(self, rows: int) -> Workload | None:
        """The GEMM cut to its first ``rows`` output channels of every group (a whole number of
        slice vectors, at least one), or None if it has no more. Only the masks are cut: ``counts``
        stay the whole GEMM's, so the cut is a sample of the layer's tiles, not a layer."""
        if self.m <= rows:
            return None
        rows = max(self.vector, rows // self.vector * self.vector)
        cut = self.weight_stored[: rows // self.vector]
        return dataclasses.replace(self, m=rows, weight_stored=cut, name=f"{self.name} (sample)")


@dataclass(frozen=True)
class AQWorkload:
    """One call of one GEMM quantized arbitrarily (the JSSC 2024 arbitrary-quantization
    accelerator): ``groups`` GEMMs ``[n, k] x [m, k]^T`` of ``x_bits`` / ``w_bits`` codes, in the
    terms the bit-serial engine's cost depends on.

    ``x_steps`` / ``w_steps``: bit-serial steps of each codebook (the operand with fewer is serial);
    ``x_nonzero`` / ``w_nonzero``: nonzero codes (zero-elimination skips the rest);
    ``x_row_bits`` int64 ``[n]`` / ``w_row_bits`` int64 ``[m]``: stored bits of each row of the
    ``[n, groups * k]`` / ``[m, groups * k]`` code matrices in the formats the density detector
    picked per ``block``; ``x_entries`` / ``w_entries``: their RLE index entries (what the
    zero-eliminator decodes).
    """

    name: str
    n: int
    k: int
    m: int
    groups: int
    x_bits: int
    w_bits: int
    x_steps: int
    w_steps: int
    x_nonzero: int
    w_nonzero: int
    x_entries: int
    w_entries: int
    block: int
    run_bits: int
    x_row_bits: torch.Tensor
    w_row_bits: torch.Tensor

    @property
    def macs(self) -> int:
        return self.groups * self.n * self.m * self.k

    @property
    def serial(self) -> Literal["weights", "activations"]:
        """The operand fed bit by bit (:func:`panacea.aq.codebook.serial_operand`)."""
        return serial_operand(self.x_steps, self.w_steps)

    @property
    def formats(self) -> tuple:
        """The codebooks' bit-serial steps and the storage format: block and RLE run width."""
        return (self.x_steps, self.w_steps, self.block, self.run_bits)

    @property
    def densities(self) -> tuple[float, float, float, float]:
        """Fraction of nonzero activation and weight codes, and stored bits per activation and
        weight code."""
        size = max(1, self.groups * self.k)
        return (
            self.x_nonzero / (size * self.n),
            self.w_nonzero / (size * self.m),
            float(self.x_row_bits.sum()) / (size * self.n),
            float(self.w_row_bits.sum()) / (size * self.m),
        )

    def first_channels(self, rows: int) -> None:
        """None: the nonzero codes and RLE entries are counted per operand, not per output channel,
        so no part of the GEMM can be cut off (:meth:`Workload.first_channels`)."""
        return None
