"""The report's tables, built once from :class:`Results` and rendered to the console or Markdown."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.table import Table as RichTable

from panacea.results.paper import paper_value
from panacea.results.queries import ablation_steps, fig18_pairs, fig19_pairs, headline, panacea_headline
from panacea.results.schema import CostRecord, Results

DISPLAY = {
    "panacea": "Panacea",
    "sibia": "Sibia",
    "sa-ws": "SA-WS",
    "sa-os": "SA-OS",
    "simd": "SIMD",
    "aq-bitserial": "AQ-BitSerial",
}
METRIC_NAMES = {
    "perplexity": "ppl",
    "embedding_cosine_to_fp32": "cos FP32",
    "polarity_accuracy": "polarity",
    "top1_agreement_with_fp32": "top-1 agree",
}
# Energy components grouped as the paper's Fig. 15 shows them.
ENERGY_GROUPS = {
    "DRAM": ("dram",),
    "SRAM": ("sram",),
    "buffers": ("buffers",),
    "compute": ("multipliers", "accumulators", "compensators", "index_decoding", "post_processing"),
    "leakage": ("leakage",),
}


def _paper_ee_gpt2() -> dict[str, float]:
    """The paper's Fig. 16 energy-efficiency gains on GPT-2 over each design (panacea.results.paper)."""
    return {d: paper_value(f"fig16-ee-{d}-gpt2") for d in ("sa-ws", "sa-os", "simd", "sibia")}


def _paper_ablation(step: str) -> tuple[float, float] | None:
    """Fig. 15's energy / throughput change of an ablation step on GPT-2 (panacea.results.paper)."""
    key = {"+ZPM": "zpm", "+DBS": "dbs", "+DTP": "dtp"}.get(step)
    return None if key is None else (paper_value(f"fig15-{key}-energy"), paper_value(f"fig15-{key}-throughput"))


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)

    def rich(self) -> RichTable:
        t = RichTable(title=self.title)
        for i, c in enumerate(self.columns):
            t.add_column(c, justify="left" if i == 0 else "right", no_wrap=i == 0)
        for r in self.rows:
            t.add_row(*r)
        return t

    def markdown(self) -> str:
        lines = [f"**{self.title}**", "", "| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(lines + ([""] + [f"- {n}" for n in self.notes] if self.notes else []))


def name(c: CostRecord) -> str:
    """A design's display name: the shipped ones as the paper writes them, others by their spec name."""
    return DISPLAY.get(c.accelerator, c.design)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.1%}"


def _num(v: float | None, spec: str = ".3f") -> str:
    return "–" if v is None else format(v, spec)


def accuracy_table(res: Results) -> Table:
    metrics = list(res.fp32)
    cols = ["scheme", *(METRIC_NAMES.get(m, m) for m in metrics)]
    cols += ["act vec", "wt vec", "act slice", "mults", "bits"]
    rows = [["FP32", *(f"{res.fp32[m]:.4g}" for m in metrics), *["–"] * 5]]
    for s in res.schemes:
        rows.append(
            [
                s.label,
                *(f"{s.metrics[m]:.4g}" for m in metrics),
                _pct(s.act_vector_sparsity),
                _pct(s.weight_vector_sparsity),
                _pct(s.act_slice_sparsity),
                _num(s.mults_vs_dense),
                _num(s.bits_vs_dense),
            ]
        )
    return Table(
        f"{res.model['name']}: accuracy and measured top-slice sparsity per scheme",
        cols,
        rows,
        [
            "act/wt vec: mean over layers of the top-slice vectors compressed (Fig. 14); act slice: of single "
            "top slices; mults / bits: 4b x 4b multiplications / stored operand bits over the dense bit-slice GEMM's."
        ],
    )


def energy_groups(c: CostRecord) -> dict[str, float]:
    """Energy in uJ per group of :data:`ENERGY_GROUPS`."""
    return {g: sum(c.energy_pj.get(k, 0.0) for k in keys) * 1e-6 for g, keys in ENERGY_GROUPS.items()}


def accelerator_table(res: Results) -> Table:
    runs = headline(res)
    ref = panacea_headline(res)
    metric = next(iter(res.fp32))
    cols = ["design", "scheme", METRIC_NAMES.get(metric, metric), "Mcycles", "TOPS", "TOPS/W"]
    area = all(c.area_mm2 for c in runs)  # a results file may record no area
    if area:
        cols += ["mm2", "TOPS/mm2"]
    if ref is not None:
        cols += ["speed-up", "EE gain"]
    rows = []
    for c in runs:
        accuracy = f"{res.scheme(c.scheme).metrics[metric]:.4g}"
        row = [name(c), c.scheme, accuracy, f"{c.cycles / 1e6:,.1f}", f"{c.tops:.3f}", f"{c.tops_per_watt:.2f}"]
        if area:
            row += [f"{c.total_area_mm2:.3f}", f"{c.tops_per_mm2:.2f}"]
        if ref is not None:
            row += [f"{c.cycles / ref.cycles:.2f}x", f"{ref.tops_per_watt / c.tops_per_watt:.2f}x"]
        rows.append(row)
    notes = [
        "speed-up / EE gain: Panacea's over the design; each design runs its own scheme (accuracy beside it). "
        f"All GEMMs of the model with weights, first evaluation call of each ({len(runs[0].layers) if runs else 0} "
        "workloads); TOPS: 2 x MACs / time; EE: TOPS/W"
        + ("; mm2: 28 nm area of logic and SRAM (panacea.hw.area)." if area else "."),
    ]
    if ref is not None:
        paper = ", ".join(f"{DISPLAY[k]} {v}x" for k, v in _paper_ee_gpt2().items())
        notes.append(f"The paper's EE gains on GPT-2 / WikiText-2 (Fig. 16): {paper}.")
    return Table(f"{res.model['name']}: the accelerators on its workloads", cols, rows, notes)


def energy_table(res: Results) -> Table:
    rows = []
    for c in headline(res):
        groups = energy_groups(c)
        total = sum(groups.values())
        rows.append([name(c), f"{total:,.0f}", *(f"{v / total:.1%}" for v in groups.values())])
    cols = ["design", "uJ", *ENERGY_GROUPS]
    note = "compute: multipliers, accumulators, compensators, index decoding and post-processing."
    return Table(f"{res.model['name']}: energy and its breakdown", cols, rows, [note])


def _change(value: float, before: float | None) -> str:
    return "–" if before is None else f"{value / before - 1:+.1%}"


def ablation_table(res: Results) -> Table | None:
    steps = ablation_steps(res)
    if len(steps) < 2:
        return None
    area = all(c.area_mm2 for _, c in steps)  # a results file may record no area
    rows, prev = [], None
    for label, c in steps:
        paper = _paper_ablation(label)
        rows.append(
            [
                f"{label} ({c.scheme})",
                f"{c.energy_j * 1e6:,.0f}",
                _change(c.energy_j, prev and prev.energy_j),
                f"{c.tops:.3f}",
                _change(c.tops, prev and prev.tops),
                *([f"{c.total_area_mm2:.3f}", _change(c.total_area_mm2, prev and prev.total_area_mm2)] if area else []),
                "–" if paper is None else f"{100 * paper[0]:+.3g}%/{100 * paper[1]:+.3g}%",
            ]
        )
        prev = c
    cols = ["step", "uJ", "energy", "TOPS", "TOPS change", *(["mm2", "area"] if area else []), "paper"]
    note = (
        "DTP off until +DTP (one CS and S-ACC per PEA, half the PSUM), DBS's shifters from +DBS; changes "
        "over the previous step; paper: its energy/throughput changes on GPT-2 (its areas are only drawn)."
    )
    return Table(f"{name(steps[0][1])} ablation (Fig. 15)", cols, rows, [note])


def fig18_table(res: Results) -> Table | None:
    pairs = fig18_pairs(res)
    if not pairs:
        return None
    metric = next(iter(res.fp32))
    rows = []
    for panel, label, aqs, other in pairs:
        acc_aqs, acc_other = res.scheme(aqs.scheme).metrics[metric], res.scheme(other.scheme).metrics[metric]
        rows.append(
            [
                f"{panel} {label}",
                f"{acc_other:.4g} / {acc_aqs:.4g}",
                f"{aqs.tops_per_watt / other.tops_per_watt:.2f}x",
                f"{aqs.tops / other.tops:.2f}x",
            ]
        )
    cols = ["AQS-GEMM vs", f"{METRIC_NAMES.get(metric, metric)}: other / AQS", "EE gain", "speed-up"]
    note = "(a) the sym scheme's integers shifted into Panacea's unsigned format; (b) the same integers as AQS."
    return Table(f"Fig. 18 on Panacea: the AQS-GEMM ({pairs[0][2].scheme}) against", cols, rows, [note])


def fig19_table(res: Results) -> Table | None:
    pairs = fig19_pairs(res)
    if 4 not in pairs:
        return None
    metric = next(iter(res.fp32))
    rows = []
    for bits, (p, q) in pairs.items():
        base_p, base_q = pairs.get(7, (p, q))
        rows.append(
            [
                f"W{bits}",
                f"{p.scheme} / {q.scheme}",
                f"{res.scheme(p.scheme).metrics[metric]:.4g} / {res.scheme(q.scheme).metrics[metric]:.4g}",
                f"{p.energy_j / q.energy_j:.2f}",
                f"{q.seconds / p.seconds:.2f}x",
                f"{p.energy_j / base_p.energy_j:.2f} / {q.energy_j / base_q.energy_j:.2f}",
                f"{p.seconds / base_p.seconds:.2f} / {q.seconds / base_q.seconds:.2f}",
            ]
        )
    cols = [
        "weights",
        "schemes (Panacea / Sibia)",
        f"{METRIC_NAMES.get(metric, metric)}",
        "energy vs Sibia",
        "lower latency",
        "energy vs W7",
        "latency vs W7",
    ]
    notes = [
        "energy vs Sibia: Panacea's over Sibia's; lower latency: Sibia's over Panacea's; vs W7: each design's "
        "(Panacea / Sibia) over its own 7-bit run.",
        f"The paper (OPT-2.7B, Fig. 19): Panacea uses {paper_value('fig19-energy-w4'):.0%} of Sibia's energy with "
        f"4-bit weights and has {paper_value('fig19-latency-w7')}x / {paper_value('fig19-latency-w4')}x lower latency "
        "with 7- / 4-bit weights.",
    ]
    return Table(f"{res.model['name']}: 4-bit weights on both bit-slice designs (Fig. 19)", cols, rows, notes)
