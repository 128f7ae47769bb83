"""Arbitrary quantization: ``b``-bit codes whose values come from a lookup table per tensor.

A :class:`Codebook` is the LUT of one tensor: ``2^b`` integer levels on the signed 8-bit value grid
``[-128, 127]`` (the JSSC 2024 accelerator: "arbitrarily quantized 8-bit precision data"); a real value is
``scale * level`` with the tensor's (or, for weights, the output channel's) scale, applied after
the integer GEMM. The levels can be anything: uniform, powers of two, normal quantiles (NF4-like)
or k-means centroids of the tensor's own values.

Conventions (ours; the abstract leaves them open):

- code 0 is the level 0. Zero-elimination skips code 0 and it is the root of the bit-serial
  decomposition (:func:`digits`), so skipping is exact with no correction term. A 1-bit codebook is
  therefore ``{0, a}``; the other codes hold the remaining levels in ascending order.
- levels are distinct, so a code is a level and :func:`encode` (nearest level) is well defined.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from panacea.core.checks import check_int_range, check_option

LEVEL_MIN, LEVEL_MAX = -128, 127
BITS = (1, 8)  # code widths the accelerator supports
KINDS = ("uniform", "pow2", "nf", "kmeans")
_POW2_ORDER = [s * 2**e for e in range(6, -1, -1) for s in (1, -1)] + [-128]  # largest first


@dataclass(frozen=True)
class Codebook:
    """The LUT of one tensor: ``levels[code]`` (int16, ``2^bits`` entries); ``kind`` says how it
    was made. Construction checks the conventions of the module docstring."""

    levels: torch.Tensor
    kind: str = "custom"

    def __post_init__(self):
        lv = self.levels
        if not isinstance(lv, torch.Tensor) or lv.ndim != 1 or lv.dtype.is_floating_point or lv.dtype == torch.bool:
            raise TypeError("levels must be a 1-D integer tensor")
        n = lv.numel()
        if n < 2 or n > 2 ** BITS[1] or n & (n - 1):
            raise ValueError(f"levels must have 2^bits entries for bits in 1..8 (2, 4, ..., 256), got {n}")
        if int(lv.min()) < LEVEL_MIN or int(lv.max()) > LEVEL_MAX:
            raise ValueError(f"levels must lie in [{LEVEL_MIN}, {LEVEL_MAX}], got [{int(lv.min())}, {int(lv.max())}]")
        if int(lv[0]) != 0:
            raise ValueError(f"levels[0] must be 0 (code 0 is the zero that zero-elimination skips), got {int(lv[0])}")
        if torch.unique(lv).numel() != n:
            raise ValueError("levels must be distinct")
        object.__setattr__(self, "levels", lv.to(torch.int16).contiguous())

    @property
    def bits(self) -> int:
        return self.levels.numel().bit_length() - 1

    @property
    def steps(self) -> int:
        """Bit-serial steps of one multiplication by a level: the most 1-bits of any level's
        magnitude (the bits the LUT makes the engine process; zero bits are never visited)."""
        return int(_popcount(self.levels.abs().to(torch.int32)).max())


def _popcount(v: torch.Tensor) -> torch.Tensor:
    return sum((v >> e) & 1 for e in range(8))


def digits(cb: Codebook) -> torch.Tensor:
    """The bit-serial LUT of a codebook: int16 ``[2^bits, steps]``, row ``c`` the signed powers of
    two of level ``c``'s magnitude, most significant first, zero-padded; a row sums to its level.

    Multiplying a parallel operand ``x`` by a level is then ``steps`` shift-and-adds of ``x``
    (reloading this LUT reconfigures the engine for another codebook: the accelerator's LUT-based runtime
    reconfiguration)."""
    mag, sign = cb.levels.abs().to(torch.int32), torch.sign(cb.levels).to(torch.int32)
    bit = 1 << torch.arange(7, -1, -1, dtype=torch.int32)  # 128, 64, ..., 1
    terms = (mag[:, None] & bit) * sign[:, None]  # [codes, 8], MSB first
    order = torch.argsort((terms == 0).to(torch.int8), dim=1, stable=True)  # nonzero terms first
    return torch.gather(terms, 1, order)[:, : cb.steps].to(torch.int16)


def _check_bits(bits: int) -> int:
    return check_int_range("bits", bits, *BITS)


def _snap(targets: torch.Tensor) -> torch.Tensor:
    """Distinct nonzero grid integers nearest to the sorted ``targets`` (order kept)."""
    grid = torch.tensor([v for v in range(LEVEL_MIN, LEVEL_MAX + 1) if v], dtype=torch.float64)
    n, top = targets.numel(), grid.numel() - 1
    idx = torch.argmin((targets.to(torch.float64)[:, None] - grid[None, :]).abs(), dim=1)
    i = torch.arange(n)
    idx = torch.cummax(idx - i, 0).values + i  # strictly increasing
    idx = torch.minimum(idx, top - (n - 1 - i))  # room for the ones above
    idx = torch.flip(torch.cummin(torch.flip(idx - i, [0]), 0).values, [0]) + i
    return grid[idx].to(torch.int16)


def _with_zero(nonzero: torch.Tensor, kind: str) -> Codebook:
    return Codebook(torch.cat([torch.zeros(1, dtype=torch.int16), torch.sort(nonzero.to(torch.int16)).values]), kind)


def uniform(bits: int) -> Codebook:
    """Two's-complement ``bits``-bit integers on the 8-bit grid: levels ``m * 2^(8 - bits)``."""
    b = _check_bits(bits)
    m = torch.arange(-(2 ** (b - 1)), 2 ** (b - 1))
    return _with_zero(m[m != 0] * 2 ** (8 - b), "uniform")


def pow2(bits: int) -> Codebook:
    """Zero and the ``2^bits - 1`` largest signed powers of two of the grid (``bits`` <= 4: the grid
    has 15 of them)."""
    b = _check_bits(bits)
    if b > 4:
        raise ValueError(f"bits must be in 1..4 for a power-of-two codebook (the 8-bit grid has 15), got {b}")
    return _with_zero(torch.tensor(_POW2_ORDER[: 2**b - 1]), "pow2")


def normal_float(bits: int) -> Codebook:
    """NormalFloat-like (QLoRA's NF4 construction at any width): ``2^(bits-1)`` positive and
    ``2^(bits-1) - 1`` negative quantiles of N(0, 1), scaled to the grid, and zero."""
    b = _check_bits(bits)
    offset = 0.5 * (1 - 1 / 32 + 1 - 1 / 30)  # QLoRA's: halfway between the 1/32 and 1/30 tails
    pos = torch.special.ndtri(torch.linspace(offset, 0.5, 2 ** (b - 1) + 1, dtype=torch.float64)[:-1])
    neg = -torch.special.ndtri(torch.linspace(offset, 0.5, 2 ** (b - 1), dtype=torch.float64)[:-1])
    values = torch.sort(torch.cat([pos, neg])).values
    return _with_zero(_snap(values / values.abs().max() * LEVEL_MAX), "nf")


def kmeans(samples: torch.Tensor, bits: int, *, iters: int = 25) -> Codebook:
    """Lloyd's k-means on ``samples`` (values already divided by the scale, so on the grid's
    range), with the zero level fixed: ``2^bits - 1`` free centroids, initialised at quantiles,
    then snapped to distinct grid integers."""
    b = _check_bits(bits)
    x = samples.detach().reshape(-1).to(torch.float64).clamp(LEVEL_MIN, LEVEL_MAX)
    if x.numel() == 0 or not torch.isfinite(x).all():
        raise ValueError("samples must be a non-empty tensor of finite values")
    k = 2**b - 1
    free = torch.quantile(x[: 1 << 24], (torch.arange(k, dtype=torch.float64) + 0.5) / k)
    for _ in range(iters):
        centres, order = torch.sort(torch.cat([torch.zeros(1, dtype=torch.float64), free]))
        owner = order[torch.bucketize(x, (centres[1:] + centres[:-1]) / 2)]  # 0: the zero level
        sums = torch.zeros(k + 1, dtype=torch.float64).scatter_add_(0, owner, x)
        counts = torch.zeros(k + 1, dtype=torch.float64).scatter_add_(0, owner, torch.ones_like(x))
        free = torch.where(counts[1:] > 0, sums[1:] / counts[1:].clamp(min=1), free)
    nonzero = torch.sort(free).values
    return _with_zero(_snap(nonzero), "kmeans")


def make(kind: str, bits: int, samples: torch.Tensor | None = None) -> Codebook:
    """A codebook of ``kind`` (:data:`KINDS`); ``kmeans`` fits ``samples``."""
    check_option("kind", kind, KINDS)
    if kind == "kmeans":
        if samples is None:
            raise ValueError("kind 'kmeans' needs samples to fit")
        return kmeans(samples, bits)
    return {"uniform": uniform, "pow2": pow2, "nf": normal_float}[kind](bits)


def encode(values: torch.Tensor, cb: Codebook) -> torch.Tensor:
    """The code of the nearest level for every value (already divided by the scale); uint8. A value
    halfway between two levels takes the lower one.

    Levels are integers, so the midpoints between neighbours are multiples of 1/2 and the code of
    ``v`` depends only on ``ceil(2 v)`` (the midpoints below ``v`` are those with ``2 mid <
    ceil(2 v)``): a table over that integer gives every code with one gather, no search.
    """
    sorted_levels, order = torch.sort(cb.levels.to(torch.int64))
    twice_mids = sorted_levels[1:] + sorted_levels[:-1]  # 2 * midpoint, ascending
    lo, hi = int(twice_mids[0]), int(twice_mids[-1]) + 1  # below lo or from hi on, nothing changes
    table = order[torch.searchsorted(twice_mids, torch.arange(lo, hi + 1), right=False)].to(torch.uint8)
    c = (values.to(torch.float32) * 2).ceil_().clamp_(lo, hi).sub_(lo).to(torch.int32)
    return table.index_select(0, c.reshape(-1)).reshape(values.shape)


def decode(codes: torch.Tensor, cb: Codebook) -> torch.Tensor:
    """The levels of ``codes`` (int16)."""
    return cb.levels[codes.to(torch.int64)]


def scale_for(absmax: float) -> float:
    """The scale that maps ``absmax`` to the grid's largest positive level."""
    return absmax / LEVEL_MAX if absmax > 0 and math.isfinite(absmax) else 1.0


def serial_operand(x_steps: int, w_steps: int) -> Literal["weights", "activations"]:
    """The operand fed bit-serially: the one whose codebook needs fewer steps (weights on a tie)."""
    return "weights" if w_steps <= x_steps else "activations"
