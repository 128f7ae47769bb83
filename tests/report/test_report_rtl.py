"""The console tables of ``panacea rtl simulate`` and ``synth``: their columns and cells."""

from __future__ import annotations

from rich_cells import read_table

from panacea.report.rtl import TileCheck, area_per_pea_line, simulate_table, synth_table
from panacea.rtl.synth import Synthesis


def test_simulate_table_has_a_row_per_tile_and_the_rtl_over_model_ratio():
    checks = [TileCheck("0:0", 3, 5, 32, 32, 0, 0, 8, 8, 8), TileCheck("7:3", 3, 5, 34, 32, 2, 1, 9, 9, 12)]
    title, headers, rows = read_table(simulate_table("tiny", "model.layers.0.q", checks))
    assert title == "tiny model.layers.0.q: the PEA's RTL against aqs_gemm and the cost model"
    assert headers == [
        "tile",
        "r",
        "lo_bits",
        "D",
        "S",
        "C",
        "mismatches",
        "model cycles",
        "row-packed",
        "RTL cycles",
        "RTL / model",
    ]
    assert rows == [
        ["0:0", "3", "5", "32", "32", "0", "0", "8", "8", "8", "1.000"],
        ["7:3", "3", "5", "34", "32", "2", "1", "9", "9", "12", "1.333"],
    ]


def test_synth_table_scales_each_block_to_its_instances_per_pea():
    s = Synthesis("opc", {"$_NAND_": 1000, "$_NOT_": 500})
    title, headers, rows = read_table(synth_table("0.70", 0.614, [("OPC (4x4)", s, 12)]))
    assert title == "Yosys 0.70 + ABC, 0.614 um2 per GE (28 nm, ZigZag's NAND2)"
    assert headers == ["block", "cells", "GE", "um2", "per PEA", "um2 per PEA"]
    assert rows == [["OPC (4x4)", "1,500", f"{s.gate_equivalents:,.0f}", f"{s.um2:,.0f}", "12", f"{12 * s.um2:,.0f}"]]


def test_the_cost_models_area_line_leaves_post_processing_out():
    line = area_per_pea_line({"multipliers": 7546.4, "post_processing": 99.0, "compensators": 2825.0})
    assert line == "cost model's area table, per PEA (um2): multipliers 7,546, compensators 2,825"
