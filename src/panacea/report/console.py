"""The console tables of ``panacea gemm-demo``, ``ptq``, ``cost``, ``aq-peak``, ``sweep`` and ``dse``:
each built from the library's results (the command line only prints them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rich.table import Table as RichTable

from panacea.hw.area import AREA_COMPONENTS
from panacea.hw.bitserial import PUBLISHED
from panacea.hw.cost import COMPONENTS
from panacea.report.tables import METRIC_NAMES

if TYPE_CHECKING:
    from panacea.flows.demo import DemoReport
    from panacea.flows.dse import Space
    from panacea.flows.ptq import StudyResult
    from panacea.hw import Cost
    from panacea.hw.bitserial import Peak

# The ptq table's column names: the report's, the cosine column spelt as ptq prints it.
PTQ_METRIC_NAMES = {**METRIC_NAMES, "embedding_cosine_to_fp32": "cos fp32"}

GEMM_DEMO_NOTES = (
    "exact: integer output == an independent dense product (of x~ under DBS)\n"
    "act sp. / wt sp.: top-slice vectors compressed (activations / weights)\n"
    "mults: 4b x 4b multiplications executed / those of the dense bit-slice GEMM\n"
    "bits: stored operand bits incl. RLE indices (Sibia: uncompressed) / dense slices\n"
    "error: relative Frobenius error of the dequantized output vs FP32"
)


def _columns(table: RichTable, names: Sequence[str], **options) -> None:
    """``names`` as columns: the first left-aligned, the others right-aligned."""
    for i, col in enumerate(names):
        table.add_column(col, justify="left" if i == 0 else "right", **options)


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def gemm_demo_header(report: DemoReport) -> list[str]:
    """The lines above the demo's table: the layer's shape and data, its zero points and DBS's split."""
    return [
        f"GPT-2 MLP c_fc shape: x[{report.tokens}, {report.in_features}] @ w[{report.out_features}, "
        f"{report.in_features}].T;\nsynthetic LayerNorm-like activations with outlier channels, heavy-tailed weights",
        f"asymmetric 8-bit zero point {report.zero_point}; ZPM -> {report.zpm_zero_point}; "
        f"DBS picks lo_bits={report.lo_bits}",
    ]


def gemm_demo_table(report: DemoReport) -> RichTable:
    """Per scheme of the demo: exactness, top-slice vector sparsity, work and storage over dense, error
    (columns explained by :data:`GEMM_DEMO_NOTES`)."""
    table = RichTable(title="Top-slice vector sparsity, work and storage (v = 4, 4-bit RLE indices)")
    _columns(table, ("scheme", "exact", "act sp.", "wt sp.", "mults", "bits", "error"), no_wrap=True)
    for row in report.rows:
        c = row.counts
        stored = (c.act_bits + c.weight_bits) / (c.dense_act_bits + c.dense_weight_bits)
        table.add_row(
            row.scheme,
            "yes" if row.exact else "[red]NO[/red]",
            f"{c.act_vector_sparsity:.1%}",
            f"{c.weight_vector_sparsity:.1%}",
            f"{c.mults / c.dense_mults:.3f}",
            f"{stored:.3f}",
            f"{row.rel_error:.4f}",
        )
    return table


def ptq_table(result: StudyResult) -> RichTable:
    """Per scheme of a ptq study: its accuracy metrics and measured top-slice sparsity, work and storage."""
    table = RichTable(title=f"{result.model}: accuracy and measured top-slice sparsity per scheme")
    metrics = list(result.schemes[0].metrics)
    columns = ("scheme", *(PTQ_METRIC_NAMES.get(m, m) for m in metrics), "act vec", "wt vec", "act slice")
    _columns(table, (*columns, "mults", "bits"), no_wrap=True)
    for r in result.schemes:
        table.add_row(
            r.label,
            *(f"{r.metrics[m]:.4g}" for m in metrics),
            _fmt(r.act_vector_sparsity, ".1%"),
            _fmt(r.weight_vector_sparsity, ".1%"),
            _fmt(r.act_slice_sparsity, ".1%"),
            _fmt(r.mults_vs_dense, ".3f"),
            _fmt(r.bits_vs_dense, ".3f"),
        )
    return table


def ptq_notes(result: StudyResult) -> str:
    """The lines under the ptq table: the data, the calibration time and the columns' meaning."""
    return (
        f"data: {result.data}; calibration {result.calibration_seconds:.0f} s.\n"
        "act/wt vec: mean over layers of the top-slice vectors compressed; act slice: of single top slices;\n"
        "mults/bits: 4b x 4b multiplications / stored bits over the dense bit-slice GEMM's, all layers."
    )


def cost_table(
    costs: Sequence[Cost], shape: tuple[int, int, int], act_sparsity: float, weight_sparsity: float
) -> RichTable:
    """One synthetic GEMM of ``shape`` (N, K, M) on each design, a column per design: cycles, TOPS,
    energy per component, DRAM traffic, utilization and area per component."""
    n, k, m = shape
    table = RichTable(
        title=f"GEMM N={n} K={k} M={m}, vector sparsity: activations {act_sparsity}, weights {weight_sparsity}"
    )
    table.add_column("", no_wrap=True)
    for c in costs:
        table.add_column(c.design, justify="right")
    rows = [
        ("cycles", lambda c: f"{c.cycles:,}"),
        ("  compute only", lambda c: f"{c.cycles_compute:,}"),
        ("  memory only", lambda c: f"{c.cycles_memory:,}"),
        ("effective TOPS", lambda c: f"{c.tops:.3f}"),
        ("TOPS/W", lambda c: f"{c.tops_per_watt:.2f}"),
        ("energy (uJ)", lambda c: f"{c.energy_j * 1e6:.2f}"),
        *((f"  {comp}", lambda c, comp=comp: f"{c.energy_pj[comp] * 1e-6:.2f}") for comp in COMPONENTS),
        ("DRAM read (KB)", lambda c: f"{c.dram_bits_read / 8192:,.0f}"),
        ("DRAM written (KB)", lambda c: f"{c.dram_bits_written / 8192:,.0f}"),
        ("utilization", lambda c: " ".join(f"{k} {v:.0%}" for k, v in c.utilization.items())),
        ("area (mm2)", lambda c: f"{c.total_area_mm2:.3f}"),
        *((f"  {comp}", lambda c, comp=comp: f"{c.area_mm2[comp]:.3f}") for comp in AREA_COMPONENTS),
        ("TOPS/mm2", lambda c: f"{c.tops_per_mm2:.2f}"),
    ]
    for label, fmt in rows:
        table.add_row(label, *(fmt(c) for c in costs))
    return table


def mapping_lines(costs: Sequence[Cost], mapping: str, objective: str) -> list[str]:
    """The mapping each design ran, a line per design, after how it was chosen."""
    return [f"{c.design} mapping ({mapping}, {objective}): {c.mapping.describe()}" for c in costs]


def aq_peak_table(design: str, sparsity: float, peaks: Sequence[Peak]) -> RichTable:
    """The arbitrary-quantization accelerator's peak at each code width, beside the JSSC 2024 paper's
    published figures (:data:`~panacea.hw.bitserial.PUBLISHED`) and our deviation from them."""
    table = RichTable(title=f"{design}: peak at {sparsity:.0%} zero codes, uniform codes on both operands")
    for col in ("bits", "steps", "TOPS", "paper", "TOPS/W", "paper", "mW"):
        table.add_column(col, justify="right")
    for p in peaks:
        paper = PUBLISHED.get(p.bits)
        tops = "" if paper is None else f"{paper[0]} ({p.tops / paper[0] - 1:+.0%})"
        eff = "" if paper is None else f"{paper[1]} ({p.tops_per_watt / paper[1] - 1:+.0%})"
        table.add_row(
            str(p.bits), str(p.steps), f"{p.tops:.2f}", tops, f"{p.tops_per_watt:.1f}", eff, f"{p.power_mw:.0f}"
        )
    return table


def sweep_table(summaries: Mapping[str, Mapping[str, float]]) -> RichTable:
    """Fig. 13's headline figures per Panacea configuration (:func:`panacea.flows.sweep.summary`)."""
    table = RichTable(title="Fig. 13 headline figures (weights = activations sparsity, over all sizes)")
    table.add_column("Panacea")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for config, figures in summaries.items():
        for key, value in figures.items():
            table.add_row(config, key, f"{value:.2f}x")
    return table


def pareto_front_table(model: str, space_file: str, space: Space, rows: Sequence[Mapping]) -> RichTable:
    """The Pareto-optimal points of a design-space exploration (``rows`` of every point, those on the
    front marked ``pareto``): their dimensions' values and objectives."""
    table = RichTable(title=f"{model}: the Pareto front of {space_file} ({len(rows)} points)")
    for column in (*space.dimensions, *space.objectives):
        table.add_column(column)
    for r in rows:
        if r.get("pareto"):
            table.add_row(*(str(r[k]) for k in space.dimensions), *(f"{r[o]:.4g}" for o in space.objectives))
    return table
