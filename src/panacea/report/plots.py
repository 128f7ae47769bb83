"""The report's figures, in the style of the paper's Figs. 14-18, from :class:`Results` alone."""

from __future__ import annotations

import io
from pathlib import Path

from panacea.core.files import atomic_write
from panacea.report.tables import ENERGY_GROUPS, METRIC_NAMES, energy_groups, name
from panacea.results.queries import ablation_steps, fig18_pairs, headline, panacea_headline
from panacea.results.schema import Results


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (every figure of panacea's reports)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> Path:
    """``fig`` as a PNG at ``path``, written atomically; the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    pyplot().close(fig)
    atomic_write(path, buf.getvalue())
    return path


def fig14_sparsity(res: Results, path: Path) -> Path:
    """Per-layer top-slice vector sparsity of activations and weights, one line per scheme."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
    for s in (s for s in res.schemes if s.act_vector_sparsity is not None):  # the bit-slice schemes
        for ax, key in zip(axes, ("act_vector_sparsity", "weight_vector_sparsity"), strict=True):
            ax.plot([layer[key] for layer in s.layers], marker=".", lw=1, label=s.label)
    axes[0].set_ylabel("activation HO\nvector sparsity")
    axes[1].set_ylabel("weight HO\nvector sparsity")
    axes[1].set_xlabel("GEMM layer (model order)")
    for ax in axes:
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, ncol=2)
    axes[0].set_title(f"{res.model['name']}: top-slice vector sparsity per layer (cf. Fig. 14)")
    return save_figure(fig, path)


def fig15_energy(res: Results, path: Path) -> Path | None:
    """Energy breakdown of every design and of Panacea's ablation steps, throughput and area on top."""
    bars = [(name(c), c) for c in headline(res) if c.kind != "panacea"]
    bars += [(f"Panacea\n{label}", c) for label, c in ablation_steps(res)]
    if not bars:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(bars)), 4.5))
    bottom = [0.0] * len(bars)
    for group in ENERGY_GROUPS:
        values = [energy_groups(c)[group] for _, c in bars]
        ax.bar(range(len(bars)), values, bottom=bottom, label=group)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_xticks(range(len(bars)), [label for label, _ in bars], fontsize=8)
    ax.set_ylabel("energy (uJ)")
    ax.legend(fontsize=8, loc="upper left")
    twin = ax.twinx()
    twin.plot(range(len(bars)), [c.tops for _, c in bars], "kD-", label="throughput (TOPS)")
    top = max(c.tops for _, c in bars)
    if all(c.area_mm2 for _, c in bars):  # a results file may record no area
        twin.plot(range(len(bars)), [c.total_area_mm2 for _, c in bars], "s--", color="C7", label="area (mm2)")
        top = max(top, *(c.total_area_mm2 for _, c in bars))
    twin.set_ylabel("throughput (TOPS), area (mm2)")
    twin.set_ylim(0, top * 1.25)
    twin.legend(fontsize=8, loc="upper right")
    ax.set_title(f"{res.model['name']}: energy, throughput and area; ablation (cf. Fig. 15)")
    return save_figure(fig, path)


def fig16_baselines(res: Results, path: Path) -> Path | None:
    """Energy efficiency and throughput of every design, with Panacea's gain over each."""
    runs = headline(res)
    ref = panacea_headline(res)
    if ref is None or len(runs) < 2:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, attr, label in ((axes[0], "tops_per_watt", "energy efficiency (TOPS/W)"), (axes[1], "tops", "TOPS")):
        values = [getattr(c, attr) for c in runs]
        colors = ["tab:red" if c is ref else "tab:gray" for c in runs]
        ax.bar(range(len(runs)), values, color=colors)
        for i, c in enumerate(runs):
            if c is not ref:
                ax.annotate(f"{getattr(ref, attr) / values[i]:.2f}x", (i, values[i]), ha="center", va="bottom")
        ax.set_xticks(range(len(runs)), [name(c) for c in runs])
        ax.set_ylabel(label)
        ax.set_ylim(0, max(values) * 1.2)
    fig.suptitle(f"{res.model['name']}: Panacea against the baselines (labels: Panacea / design; cf. Figs. 16-17)")
    return save_figure(fig, path)


def fig18_alternatives(res: Results, path: Path) -> Path | None:
    """(a) asymmetric vs symmetric quantization, (b) AQS-GEMM vs skipping zero slices only, on Panacea."""
    pairs = fig18_pairs(res)
    if not pairs:
        return None
    plt = pyplot()
    metric = next(iter(res.fp32))
    fig, axes = plt.subplots(1, len(pairs), figsize=(5.5 * len(pairs), 4), squeeze=False)
    for ax, (panel, label, aqs, other) in zip(axes[0], pairs, strict=True):
        x = range(2)
        for offset, attr, title in ((-0.2, "tops_per_watt", "TOPS/W"), (0.2, "tops", "TOPS")):
            ratios = [getattr(other, attr) / getattr(aqs, attr), 1.0]
            ax.bar([i + offset for i in x], ratios, width=0.4, label=f"{title} (norm. to AQS)")
        names = ["zero-only" if other.variant == "zero-only" else "symmetric", "AQS (asym)"]
        accuracy = [res.scheme(other.scheme).metrics[metric], res.scheme(aqs.scheme).metrics[metric]]
        metric_name = METRIC_NAMES.get(metric, metric)
        ax.set_xticks(list(x), [f"{n}\n{metric_name} {a:.4g}" for n, a in zip(names, accuracy, strict=True)])
        ax.set_title(f"{panel} {label}", fontsize=9)
        ax.legend(fontsize=8)
    fig.suptitle(f"{res.model['name']} on Panacea (cf. Fig. 18)")
    return save_figure(fig, path)


FIGURES = {
    "fig14_vector_sparsity.png": fig14_sparsity,
    "fig15_energy_breakdown.png": fig15_energy,
    "fig16_vs_baselines.png": fig16_baselines,
    "fig18_asym_sym_zero_skip.png": fig18_alternatives,
}


def plot_all(res: Results, directory: Path) -> list[Path]:
    """Every figure that the results support, written into ``directory``."""
    written = [fn(res, Path(directory) / file) for file, fn in FIGURES.items()]
    return [p for p in written if p is not None]
