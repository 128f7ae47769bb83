"""The 28 nm area table and a design's area from what its spec instantiates (README: "Area at 28 nm").

Every constant lives in ``area_28nm.toml`` with its source and scaling rule. A design lists its
logic as :class:`Part` s (component, kind of cell, count, width) and its memories as
:meth:`~panacea.hw.architecture.Architecture.memories`; :func:`area_mm2` prices both. Changing the table is
editing data: pass another file to :func:`load_area`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from panacea.hw.cost import COMPONENTS
from panacea.hw.tables import Positive, Strict, check_columns, load_table, log_log

# Area components: the energy components that are silicon, and the registers on their own (their
# accesses' energy counts under "buffers"). Memories are "sram" (WMEM / AMEM / OMEM) or "buffers".
AREA_COMPONENTS = (*(c for c in COMPONENTS if c not in ("dram", "leakage")), "registers")
SRAM_MEMORIES = ("wmem", "amem", "omem")
Kind = Literal["mult_4x4", "mult_8x8", "adder", "register", "shifter", "comparator"]
UM2_PER_MM2 = 1e6


class LogicArea(Strict):
    """um^2 per multiplier; um^2 per bit of width for the others."""

    mult_4x4: float = Field(gt=0)
    mult_8x8: float = Field(gt=0)
    adder_per_bit: float = Field(gt=0)
    register_per_bit: float = Field(gt=0)
    shifter_per_bit: float = Field(gt=0)
    comparator_per_bit: float = Field(gt=0)


class SramArea(Strict):
    size_kb: list[Positive]
    area_mm2: list[Positive]

    @model_validator(mode="after")
    def _consistent(self) -> SramArea:
        check_columns(self.size_kb, {"area_mm2": self.area_mm2})
        return self

    def area(self, size_kb: float) -> float:
        """mm^2 of one macro of ``size_kb`` (log-log between the CACTI rows)."""
        return log_log(tuple(self.size_kb), tuple(self.area_mm2), size_kb)


class AreaTable(Strict):
    logic: LogicArea
    sram: SramArea

    def part_um2(self, kind: Kind, bits: int) -> float:
        """um^2 of one cell of ``kind`` and width ``bits`` (multipliers: their own width)."""
        if kind in ("mult_4x4", "mult_8x8"):
            return getattr(self.logic, kind)
        return getattr(self.logic, f"{kind}_per_bit") * bits


@dataclass(frozen=True)
class Part:
    """``count`` cells of ``kind``, ``bits`` wide, counted under ``component``."""

    component: str
    kind: Kind
    count: int
    bits: int = 1


# The post-processing unit (dequantize, requantize, activation) is not sized by the paper; every
# design gets the same one, so it cancels in comparisons: PPU_LANES outputs per cycle, each a
# 16b x 16b multiply (four 8b x 8b), two 32-bit adds and an 8-bit compare (what the energy table's
# ``ppu_output`` prices), with a 32-bit register.
PPU_LANES = 16


def ppu_parts() -> list[Part]:
    return [
        Part("post_processing", "mult_8x8", 4 * PPU_LANES),
        Part("post_processing", "adder", 2 * PPU_LANES, 32),
        Part("post_processing", "comparator", PPU_LANES, 8),
        Part("post_processing", "register", PPU_LANES, 32),
    ]


def area_mm2(parts: list[Part], memories: dict[str, tuple[float, int]], table: AreaTable) -> dict[str, float]:
    """mm^2 per component (:data:`AREA_COMPONENTS`) of a design's logic ``parts`` and ``memories``
    (name -> (KB of one instance, instances))."""
    out = dict.fromkeys(AREA_COMPONENTS, 0.0)
    for part in parts:
        if part.component not in out:
            raise ValueError(f"part component {part.component!r} is not one of {', '.join(AREA_COMPONENTS)}")
        out[part.component] += part.count * table.part_um2(part.kind, part.bits) / UM2_PER_MM2
    for name, (kb, count) in memories.items():
        out["sram" if name in SRAM_MEMORIES else "buffers"] += count * table.sram.area(kb)
    return out


def load_area(path: str | Path | None = None) -> AreaTable:
    """The default 28 nm table, or one read from ``path``; errors name the bad key."""
    return load_table(AreaTable, "area_28nm.toml", path, "area table")
