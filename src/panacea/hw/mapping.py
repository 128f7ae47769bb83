"""Mappings as data: how a design runs one GEMM, chosen per layer by a search (Timeloop's and
ZigZag's split of architecture and mapping).

A :class:`Mapping` is the design's **tiling** (the tile extents and modes its core allows: Panacea's
and Sibia's activation tile tokens, sub-tile rows, K chunk and DTP; a weight-stationary array's
token chunk; nothing for the designs whose tile is their array fold) and the **blocking** above the
core (:class:`~panacea.hw.schedule.Blocking`: loop order, the outer operand's resident block,
double buffering). ``--mapping fixed`` is the spec's tile fields with one tile per block, in the
loop nest of :mod:`~panacea.hw.schedule`; ``--mapping search`` (the default) tries every tiling
the hardware's capacities allow with every blocking worth trying and keeps the one with the best
objective: ``energy`` (default), ``latency`` or ``edp`` (energy-delay product). The choice is cached
per (GEMM shape, number formats, sparsity to one decimal) in each cost model: the search runs once per
distinct layer of a model, and every layer is costed exactly on its own masks with the mapping
chosen for its kind (or the fixed one where that is cheaper, :class:`~panacea.hw.mapper.Mapper`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from panacea.hw.schedule import Blocking, Inner

if TYPE_CHECKING:
    from panacea.workload import AQWorkload, Workload

MappingMode = Literal["search", "fixed"]
Objective = Literal["energy", "latency", "edp"]
MAPPING_MODES: tuple[MappingMode, ...] = ("search", "fixed")
OBJECTIVES: tuple[Objective, ...] = ("energy", "latency", "edp")
Tiling = tuple[tuple[str, int | bool], ...]
# A GEMM with more output channels has its tilings tried on its first SEARCH_ROWS (Mapper._search_large).
SEARCH_ROWS = 1024
# A choice re-used for another layer of its kind is costed beside the fixed mapping there unless it
# beat the fixed mapping by more than this on the layer it was searched for (Mapper._reuse).
RECHECK_MARGIN = 0.02


def tiling(**fields: int | bool) -> Tiling:
    """A tiling as a hashable, ordered value."""
    return tuple(fields.items())


@dataclass(frozen=True)
class Mapping:
    """The mapping of one GEMM: the core's tiling and the blocking above it."""

    tiling: Tiling
    blocking: Blocking
    inner: Inner

    def describe(self) -> str:
        tiles = " ".join(f"{k}={('on' if v else 'off') if isinstance(v, bool) else v}" for k, v in self.tiling)
        inner = {"all": "once", "block": "per block", "step": "per step"}[self.inner]
        return f"{tiles + '; ' if tiles else ''}{self.blocking.describe()}; inner loaded {inner}"

    def as_dict(self) -> dict:
        b = self.blocking
        return {
            **dict(self.tiling),
            "outer": "weights" if b.weights_outer else "activations",
            "block": b.block,
            "resident": b.resident,
            "double_buffer": b.double_buffer,
            "inner": self.inner,
        }


def check_choice(mapping: str, objective: str) -> None:
    """One clear error for a mapping mode or objective that does not exist."""
    if mapping not in MAPPING_MODES:
        raise ValueError(f"mapping must be one of {', '.join(MAPPING_MODES)}, not {mapping!r}")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, not {objective!r}")


def score(energy_pj: float, cycles: int, objective: Objective) -> float:
    """What the search minimises."""
    return {"energy": energy_pj, "latency": float(cycles), "edp": energy_pj * cycles}[objective]


def workload_key(w: Workload | AQWorkload) -> tuple:
    """What a mapping choice depends on (the workload's type, shape, formats), with its densities
    summarised to one decimal: layers (and the calls of one layer) that agree here share one search."""
    shape = (type(w).__name__, w.n, w.k, w.m, w.groups, w.x_bits, w.w_bits)
    return (*shape, *w.formats, *(round(d, 1) for d in w.densities))
