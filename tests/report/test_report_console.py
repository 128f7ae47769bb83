"""The console tables of gemm-demo, ptq, cost, aq-peak, sweep and dse: their titles, columns and
cells, from the library's results."""

from __future__ import annotations

from dataclasses import replace

from rich_cells import read_table

import panacea.hw as hw
from panacea.flows.demo import run_gemm_demo
from panacea.flows.dse import load_space
from panacea.flows.ptq import StudyResult
from panacea.hw.area import AREA_COMPONENTS
from panacea.hw.bitserial import peak
from panacea.hw.cost import COMPONENTS
from panacea.report.console import (
    aq_peak_table,
    cost_table,
    gemm_demo_header,
    gemm_demo_table,
    mapping_lines,
    pareto_front_table,
    ptq_notes,
    ptq_table,
    sweep_table,
)
from panacea.results import SchemeRecord
from panacea.workload.build import synthetic_workload


def test_gemm_demo_table_has_a_row_per_scheme_with_its_counts():
    report = run_gemm_demo(tokens=32, in_features=48, out_features=16, seed=3)
    title, headers, rows = read_table(gemm_demo_table(report))
    assert title == "Top-slice vector sparsity, work and storage (v = 4, 4-bit RLE indices)"
    assert headers == ["scheme", "exact", "act sp.", "wt sp.", "mults", "bits", "error"]
    assert [r[0] for r in rows] == [row.scheme for row in report.rows]
    for cells, row in zip(rows, report.rows, strict=True):
        c = row.counts
        stored = (c.act_bits + c.weight_bits) / (c.dense_act_bits + c.dense_weight_bits)
        assert cells[1:] == [
            "yes",
            f"{c.act_vector_sparsity:.1%}",
            f"{c.weight_vector_sparsity:.1%}",
            f"{c.mults / c.dense_mults:.3f}",
            f"{stored:.3f}",
            f"{row.rel_error:.4f}",
        ]
    shape, zero_points = gemm_demo_header(report)
    assert "x[32, 48] @ w[16, 48].T" in shape
    assert zero_points.endswith(f"ZPM -> {report.zpm_zero_point}; DBS picks lo_bits={report.lo_bits}")


def test_a_product_that_is_not_exact_is_flagged():
    report = run_gemm_demo(tokens=8, in_features=16, out_features=4, seed=0)
    broken = replace(report, rows=[replace(report.rows[0], exact=False)])
    assert read_table(gemm_demo_table(broken))[2][0][1] == "[red]NO[/red]"


def _study() -> StudyResult:
    fp32 = SchemeRecord(scheme="fp32", label="FP32", metrics={"perplexity": 20.0, "embedding_cosine_to_fp32": 1.0})
    dbs = SchemeRecord(
        scheme="dbs",
        label="asym + ZPM + DBS",
        metrics={"perplexity": 21.25, "embedding_cosine_to_fp32": 0.98765},
        act_vector_sparsity=0.9123,
        weight_vector_sparsity=0.05,
        act_slice_sparsity=0.95,
        mults_vs_dense=0.51234,
        bits_vs_dense=0.7,
    )
    return StudyResult("tiny", "causal-lm", "dir", {"windows": 2}, 12.4, [fp32, dbs])


def test_ptq_table_shows_each_metric_and_a_dash_where_a_scheme_has_no_sparsity():
    title, headers, rows = read_table(ptq_table(_study()))
    assert title == "tiny: accuracy and measured top-slice sparsity per scheme"
    assert headers == ["scheme", "ppl", "cos fp32", "act vec", "wt vec", "act slice", "mults", "bits"]
    assert rows == [
        ["FP32", "20", "1", "-", "-", "-", "-", "-"],
        ["asym + ZPM + DBS", "21.25", "0.9877", "91.2%", "5.0%", "95.0%", "0.512", "0.700"],
    ]
    assert ptq_notes(_study()).startswith("data: {'windows': 2}; calibration 12 s.\n")


def test_cost_table_has_a_column_per_design_and_a_row_per_figure():
    workload = synthetic_workload(64, 128, 128, act_sparsity=0.5, weight_sparsity=0.25)
    costs = [hw.load(name, mapping="fixed").run(workload) for name in ("panacea", "simd")]
    title, headers, rows = read_table(cost_table(costs, (64, 128, 128), 0.5, 0.25))
    assert title == "GEMM N=64 K=128 M=128, vector sparsity: activations 0.5, weights 0.25"
    assert headers == ["", "Panacea", "SIMD"]
    labels = [r[0] for r in rows]
    assert labels[:6] == ["cycles", "  compute only", "  memory only", "effective TOPS", "TOPS/W", "energy (uJ)"]
    assert labels[6 : 6 + len(COMPONENTS)] == [f"  {c}" for c in COMPONENTS]
    assert labels[-1] == "TOPS/mm2" and labels[-2 - len(AREA_COMPONENTS)] == "area (mm2)"
    by = {r[0]: r[1:] for r in rows}
    assert by["cycles"] == [f"{c.cycles:,}" for c in costs]
    assert by["area (mm2)"] == [f"{c.total_area_mm2:.3f}" for c in costs]
    assert by["  dram"] == [f"{c.energy_pj['dram'] * 1e-6:.2f}" for c in costs]
    lines = mapping_lines(costs, "fixed", "energy")
    assert lines == [f"{c.design} mapping (fixed, energy): {c.mapping.describe()}" for c in costs]


def test_aq_peak_table_sets_our_peak_beside_the_published_one():
    model = hw.load("aq-bitserial")
    peaks = [peak(model, bits, 0.3) for bits in (1, 4, 8)]
    title, headers, rows = read_table(aq_peak_table(model.name, 0.3, peaks))
    assert title == "AQ-BitSerial: peak at 30% zero codes, uniform codes on both operands"
    assert headers == ["bits", "steps", "TOPS", "paper", "TOPS/W", "paper", "mW"]
    one, four, eight = rows
    assert one[:3] == ["1", str(peaks[0].steps), f"{peaks[0].tops:.2f}"]
    assert one[3] == f"5.55 ({peaks[0].tops / 5.55 - 1:+.0%})" and one[5].startswith("95.9 (")
    assert four[3] == four[5] == ""  # the paper states 1 and 8 bits only
    assert eight[3].startswith("0.87 (") and eight[5].startswith("15.1 (")


def test_sweep_table_has_a_row_per_configuration_and_figure():
    summaries = {"4D+8S": {"max speedup over SIMD": 2.244, "DTP gain at sparsity 0.95": 1.07}, "8D+4S": {"x": 1.0}}
    title, headers, rows = read_table(sweep_table(summaries))
    assert title.startswith("Fig. 13 headline figures")
    assert headers == ["Panacea", "figure", "value"]
    assert rows == [
        ["4D+8S", "max speedup over SIMD", "2.24x"],
        ["4D+8S", "DTP gain at sparsity 0.95", "1.07x"],
        ["8D+4S", "x", "1.00x"],
    ]


def test_pareto_front_table_shows_only_the_front(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text('base = "panacea"\n[vary]\n"core.dwo_per_pea" = [2, 4]\n')
    space = load_space(path)
    rows = [
        {"core.dwo_per_pea": 2, "tops": 1.234567, "tops_per_watt": 3.0, "pareto": True},
        {"core.dwo_per_pea": 4, "tops": 1.0, "tops_per_watt": 2.0, "pareto": False},
    ]
    title, headers, cells = read_table(pareto_front_table("tiny", "space.toml", space, rows))
    assert title == "tiny: the Pareto front of space.toml (2 points)"
    assert headers == ["core.dwo_per_pea", "tops", "tops_per_watt"]
    assert cells == [["2", "1.235", "3"]]
