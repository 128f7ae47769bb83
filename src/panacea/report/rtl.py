"""The console tables of ``panacea rtl``: the PEA's RTL against aqs_gemm and the cost model
(``simulate``), and the synthesized blocks' areas (``synth``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.table import Table as RichTable

if TYPE_CHECKING:
    from panacea.rtl.synth import Synthesis


@dataclass(frozen=True)
class TileCheck:
    """One tile simulated on the PEA: its work as the cost model counts it (``dynamic`` D, ``static``
    S and ``compensated`` C outer products), the RTL's mismatches against aqs_gemm, and cycles: the
    cost model's formula, perfect packing within each activation row, and the RTL's."""

    tile: str
    r: int
    lo_bits: int
    dynamic: int
    static: int
    compensated: int
    mismatches: int
    model_cycles: int
    row_packed: int
    rtl_cycles: int


def simulate_table(model: str, layer: str, checks: Sequence[TileCheck]) -> RichTable:
    """A row per simulated tile of ``model``'s ``layer``; the last column, RTL over model cycles."""
    table = RichTable(title=f"{model} {layer}: the PEA's RTL against aqs_gemm and the cost model")
    columns = ("tile", "r", "lo_bits", "D", "S", "C", "mismatches", "model cycles", "row-packed", "RTL cycles")
    for col in (*columns, "RTL / model"):
        table.add_column(col, justify="right")
    for t in checks:
        counts = (t.r, t.lo_bits, t.dynamic, t.static, t.compensated, t.mismatches)
        cycles = (t.model_cycles, t.row_packed, t.rtl_cycles)
        table.add_row(t.tile, *map(str, counts), *map(str, cycles), f"{t.rtl_cycles / t.model_cycles:.3f}")
    return table


def synth_table(yosys: str, um2_per_ge: float, blocks: Sequence[tuple[str, Synthesis, int]]) -> RichTable:
    """A row per synthesized block (its label, synthesis and instances per PEA): cells, gate
    equivalents and area, alone and per PEA."""
    table = RichTable(title=f"Yosys {yosys} + ABC, {um2_per_ge} um2 per GE (28 nm, ZigZag's NAND2)")
    for col in ("block", "cells", "GE", "um2", "per PEA", "um2 per PEA"):
        table.add_column(col, justify="left" if col == "block" else "right")
    for label, s, per_pea in blocks:
        table.add_row(
            label,
            f"{sum(s.cells.values()):,}",
            f"{s.gate_equivalents:,.0f}",
            f"{s.um2:,.0f}",
            str(per_pea),
            f"{s.um2 * per_pea:,.0f}",
        )
    return table


def area_per_pea_line(um2_by_component: Mapping[str, float]) -> str:
    """The cost model's area per PEA by component, beside the synthesized blocks (post-processing
    is outside the PEA)."""
    return "cost model's area table, per PEA (um2): " + ", ".join(
        f"{k} {v:,.0f}" for k, v in um2_by_component.items() if k != "post_processing"
    )
