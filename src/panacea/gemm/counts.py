"""What a bit-slice GEMM costs: the counting rules (paper Table I, generalised).

Both GEMM paths measure a :class:`Census` (stored top-slice lanes per k, vector statistics, the
RLE size of the top slices) in their own way; :func:`assemble` turns a census into
:class:`GemmCounts` with one set of formulas.

Rules, over real lanes only (padding is never work): per slice pair, one 4b x 4b multiplication
for every (output row, output column, k) whose two slices are both present. A top slice is present
when its vector is stored (or, for Sibia's operand that is not skipped, always); lower slices
always are. With ``WH[k]``, ``XH[k]`` the present top-slice lanes at ``k`` and ``l_w``, ``l_x`` the
numbers of lower slices:

    HH = sum_k WH[k] XH[k]    HL = l_x N sum_k WH[k]    LH = l_w M sum_k XH[k]    LL = l_w l_x N M K

The compensator (eq. 6) accumulates every loaded weight slice once per stored activation vector,
``sum_k S_x[k] (WH[k] + l_w M)`` additions with ``S_x[k]`` the stored activation vectors at ``k``,
then multiplies each of the ``M N`` accumulated sums by ``r`` once (none when ``r = 0``: the term
vanishes).

Grouped GEMMs (a grouped convolution as ``groups`` GEMMs stacked along K, ``M`` outputs each)
follow the same rules with ``K`` the stacked length: every column k belongs to one group, whose
``M`` outputs are the only ones it feeds; there are ``groups * M * N`` outputs.

``adds`` counts one accumulation per product, the compensator's accumulations and one addition per
output to apply the compensation. Stored bits: Panacea keeps top slices RLE'd
(``b`` bits per index entry plus 4 per stored slice) and lower slices dense; Sibia keeps every
slice dense. Dense references: ``n_w n_x N M K`` multiplications and ``4 n`` bits per element.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Literal

import torch

from panacea.core.formats import SLICE_BITS

Skipped = Literal["activations", "weights", "both", "none", "mixed"]


@dataclass(frozen=True)
class GemmCounts:
    """Work and storage of one bit-slice GEMM (rules in this module's docstring).

    Vector counts are over top-slice vectors (``ceil(rows / v) * K`` per operand; 0 for an operand
    without a high-order slice). ``act_bits``/``weight_bits`` are the stored format: for Panacea
    the RLE-compressed top slices (data and indices) plus the dense lower slices; for Sibia the
    dense slices, with ``*_index_bits`` then the on-chip RLE index stream of the skipped operand.
    """

    act_vectors: int
    act_vectors_compressed: int
    weight_vectors: int
    weight_vectors_compressed: int
    mults_hh: int
    mults_hl: int
    mults_lh: int
    mults_ll: int
    compensation_mults: int
    compensation_adds: int
    adds: int
    dense_mults: int
    act_bits: int
    weight_bits: int
    act_index_bits: int
    weight_index_bits: int
    dense_act_bits: int
    dense_weight_bits: int
    skipped: Skipped

    @property
    def act_vector_sparsity(self) -> float:
        """Fraction of activation top-slice vectors compressed."""
        return self.act_vectors_compressed / self.act_vectors if self.act_vectors else 0.0

    @property
    def weight_vector_sparsity(self) -> float:
        """Fraction of weight top-slice vectors compressed (0 for 4-bit weights: no top slice)."""
        return self.weight_vectors_compressed / self.weight_vectors if self.weight_vectors else 0.0

    @property
    def mults(self) -> int:
        """4b x 4b multiplications executed by the bit-slice GEMMs (compensation excluded)."""
        return self.mults_hh + self.mults_hl + self.mults_lh + self.mults_ll

    def __add__(self, other: GemmCounts) -> GemmCounts:
        """Counts of two GEMMs together (calls of a layer, layers of a model); ``skipped`` becomes
        ``"mixed"`` where they differ."""
        if not isinstance(other, GemmCounts):
            return NotImplemented
        values = {f: getattr(self, f) + getattr(other, f) for f in _COUNT_FIELDS}
        return GemmCounts(**values, skipped=self.skipped if self.skipped == other.skipped else "mixed")

    def to_dict(self) -> dict[str, int | float | str]:
        d: dict[str, int | float | str] = asdict(self)
        d.update(
            act_vector_sparsity=self.act_vector_sparsity,
            weight_vector_sparsity=self.weight_vector_sparsity,
            mults=self.mults,
        )
        return d


_COUNT_FIELDS = [f.name for f in fields(GemmCounts) if f.name != "skipped"]


@dataclass(frozen=True)
class Census:
    """What a path measured of one GEMM."""

    wh: torch.Tensor  # int64 [K]: present weight top-slice lanes at k
    xh: torch.Tensor  # int64 [K]: present activation top-slice lanes at k
    x_stored_k: torch.Tensor  # int64 [K]: stored activation top-slice vectors at k
    weight_vectors: int
    weight_vectors_compressed: int
    act_vectors: int
    act_vectors_compressed: int
    weight_top_bits: int  # RLE-compressed top-slice bits incl. indices (0 when not RLE'd)
    weight_index_bits: int
    act_top_bits: int
    act_index_bits: int


@dataclass(frozen=True)
class Shape:
    """Sizes and slice structure of one GEMM ``[N, K] x [M, K]^T``."""

    n: int
    m: int
    k: int
    x_slices: int
    w_slices: int
    x_has_top: bool  # whether the operand has a compressible high-order slice
    w_has_top: bool
    groups: int = 1  # independent GEMMs stacked along K (grouped convolution): m is per group


def assemble(s: Shape, c: Census, *, compensate: bool, compressed_storage: bool, skipped: Skipped) -> GemmCounts:
    """:class:`GemmCounts` from a census, by the rules of this module."""
    n, m, k = s.n, s.m, s.k
    w_low = s.w_slices - s.w_has_top
    x_low = s.x_slices - s.x_has_top
    mults_hh = int((c.wh * c.xh).sum())
    mults_hl = x_low * n * int(c.wh.sum())
    mults_lh = w_low * m * int(c.xh.sum())
    mults_ll = w_low * x_low * n * m * k
    mults = mults_hh + mults_hl + mults_lh + mults_ll
    comp_adds = int((c.x_stored_k * (c.wh + w_low * m)).sum()) if compensate else 0
    comp_mults = s.groups * m * n if compensate else 0
    dense_w_bits = SLICE_BITS * s.w_slices * m * k
    dense_x_bits = SLICE_BITS * s.x_slices * n * k
    if compressed_storage:
        w_bits = c.weight_top_bits + SLICE_BITS * w_low * m * k
        x_bits = c.act_top_bits + SLICE_BITS * x_low * n * k
    else:
        w_bits, x_bits = dense_w_bits, dense_x_bits
    return GemmCounts(
        act_vectors=c.act_vectors,
        act_vectors_compressed=c.act_vectors_compressed,
        weight_vectors=c.weight_vectors,
        weight_vectors_compressed=c.weight_vectors_compressed,
        mults_hh=mults_hh,
        mults_hl=mults_hl,
        mults_lh=mults_lh,
        mults_ll=mults_ll,
        compensation_mults=comp_mults,
        compensation_adds=comp_adds,
        adds=mults + comp_adds + comp_mults,
        dense_mults=s.w_slices * s.x_slices * n * m * k,
        act_bits=x_bits,
        weight_bits=w_bits,
        act_index_bits=c.act_index_bits,
        weight_index_bits=c.weight_index_bits,
        dense_act_bits=dense_x_bits,
        dense_weight_bits=dense_w_bits,
        skipped=skipped,
    )
