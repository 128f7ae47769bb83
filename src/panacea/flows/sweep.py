"""The synthetic sparsity sweep of the paper's Fig. 13: throughput of every design against the
top-slice vector sparsity of weights and activations.

For each operand size and each (weight, activation) sparsity pair, one synthetic workload with
random masks of exactly those sparsities (:func:`~panacea.workload.build.synthetic_workload`; Sibia gets
the symmetric workload with the same sparsities) is costed on Panacea with 4 DWO + 8 SWO and with
8 DWO + 4 SWO, each with DTP on and off (without DTP's hardware), on Sibia, and on the dense
baselines (SA-WS, SA-OS, SIMD, whose cost does not depend on sparsity). Rows go to a CSV; the
plot shows the diagonal (equal weight and activation sparsity), one panel per (size, Panacea
configuration).
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from panacea.core.files import atomic_write
from panacea.flows.executors import Executor, LocalExecutor
from panacea.hw import Cost, CostModel, load, model_for
from panacea.hw.mapping import MappingMode, Objective
from panacea.hw.spec import with_core, without_dtp
from panacea.schemes import activations_of_kind
from panacea.workload.build import synthetic_workload

LEVELS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
# Small: the activations (128 x 256, 32 KB) fit every design's AMEM; large: a GPT-2 layer at 1024 tokens.
SIZES = {"small": (128, 256, 256), "large": (1024, 768, 768)}
BASELINES = ("sa-ws", "sa-os", "simd")
PANACEA_CONFIGS = {"4D+8S": (4, 8), "8D+4S": (8, 4)}


@dataclass(frozen=True)
class SweepRow:
    size: str
    n: int
    k: int
    m: int
    design: str
    config: str  # Panacea's "4D+8S"/"8D+4S" (empty for other designs)
    dtp: bool
    weight_sparsity: float
    act_sparsity: float
    cycles: int
    tops: float
    tops_per_watt: float


def panacea_variants(base: CostModel | None = None) -> dict[tuple[str, bool], CostModel]:
    """Panacea with each DWO/SWO split of :data:`PANACEA_CONFIGS`, DTP on and off (without DTP's
    hardware, :func:`~panacea.hw.spec.without_dtp`), with ``base``'s energy table, mapping and
    objective."""
    base = load("panacea") if base is None else base
    out = {}
    for config, (dwo, swo) in PANACEA_CONFIGS.items():
        spec = with_core(base.spec, dwo_per_pea=dwo, swo_per_pea=swo)
        for dtp, variant in ((True, spec), (False, without_dtp(spec))):
            out[config, dtp] = model_for(variant, base.energy, mapping=base.mapping, objective=base.objective)
    return out


def sparsity_sweep(
    sizes: dict[str, tuple[int, int, int]] | None = None,
    levels: Sequence[float] = LEVELS,
    *,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    mapping: MappingMode = "search",
    objective: Objective = "latency",
    executor: Executor | None = None,
) -> list[SweepRow]:
    """Every (size, design, weight sparsity, activation sparsity) point; ``sizes`` maps a name to
    ``(n, k, m)`` (default :data:`SIZES`); every design maps each point as ``mapping`` says, a
    search minimising latency by default (Fig. 13 plots throughput; under an energy objective a
    DTP design may rightly leave DTP off where pairing costs energy). The points run on
    ``executor`` (default: this process), each on fresh cost models, so the rows do not depend on
    where or in which order they ran."""
    sizes = SIZES if sizes is None else sizes
    if not sizes or not levels:
        raise ValueError("sizes and levels must not be empty")
    items = []  # per size: its dense baselines (at every level), then each sparsity pair
    for size, shape in sizes.items():
        items.append((size, shape, None, None))
        items += [(size, shape, ws, xs) for ws in levels for xs in levels]
    shared = {"levels": tuple(levels), "seed": seed, "mapping": mapping, "objective": objective}
    results: dict[int, list[SweepRow]] = {}
    for i, rows in (executor or LocalExecutor()).map(_sweep_point, items, shared):
        results[i] = rows
        if progress is not None:
            progress(len(results), len(items))
    return [row for i in range(len(items)) for row in results[i]]


def _sweep_point(shared: dict, item: tuple) -> list[SweepRow]:
    """The rows of one sweep item: a size's dense baselines (``ws`` None), or one sparsity pair on
    Sibia and every Panacea variant."""
    size, (n, k, m), ws, xs = item
    options, seed = {"mapping": shared["mapping"], "objective": shared["objective"]}, shared["seed"]
    row = functools.partial(_row, size, (n, k, m))
    if ws is None:
        dense = synthetic_workload(n, k, m, act_sparsity=0.0, weight_sparsity=0.0, seed=seed)
        rows = []
        for name in BASELINES:  # dense designs: the same at every sparsity
            model = load(name, **options)
            cost = model.run(dense)
            rows += [row(model, cost, ws=w, xs=x) for w in shared["levels"] for x in shared["levels"]]
        return rows
    workloads = {
        scheme: synthetic_workload(n, k, m, act_sparsity=xs, weight_sparsity=ws, scheme=scheme, seed=seed)
        for scheme in ("asym", "sym")
    }
    sibia = load("sibia", **options)
    rows = [row(sibia, sibia.run(workloads[activations_of_kind(sibia.spec.kind)]), ws=ws, xs=xs)]
    for (config, dtp), model in panacea_variants(load("panacea", **options)).items():
        rows.append(row(model, model.run(workloads[activations_of_kind(model.spec.kind)]), config, dtp, ws, xs))
    return rows


def _row(
    size: str,
    shape: tuple[int, int, int],
    model: CostModel,
    cost: Cost,
    config: str = "",
    dtp: bool = False,
    ws: float = 0.0,
    xs: float = 0.0,
) -> SweepRow:
    return SweepRow(size, *shape, model.name, config, dtp, ws, xs, cost.cycles, cost.tops, cost.tops_per_watt)


def write_csv(rows: Sequence[SweepRow], path) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(SweepRow.__dataclass_fields__))
    writer.writeheader()
    writer.writerows(asdict(r) for r in rows)
    atomic_write(path, buf.getvalue().encode())


def _label(r: SweepRow) -> str:
    return f"{r.design} {'DTP' if r.dtp else 'no DTP'}" if r.config else r.design


def plot(rows: Sequence[SweepRow], path) -> None:
    """Throughput (TOPS) against sparsity (weights = activations), a panel per (size, config)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    diagonal = [r for r in rows if r.weight_sparsity == r.act_sparsity]
    sizes = list(dict.fromkeys(r.size for r in diagonal))
    configs = list(PANACEA_CONFIGS)
    fig, axes = plt.subplots(len(sizes), len(configs), figsize=(5.5 * len(configs), 4 * len(sizes)), squeeze=False)
    for i, size in enumerate(sizes):
        for j, config in enumerate(configs):
            ax = axes[i][j]
            picked = [r for r in diagonal if r.size == size and r.config in ("", config)]
            for label in dict.fromkeys(_label(r) for r in picked):
                line = sorted((r.weight_sparsity, r.tops) for r in picked if _label(r) == label)
                style = "-o" if "Panacea" in label else "--"
                ax.plot([x for x, _ in line], [y for _, y in line], style, label=label, markersize=3)
            n, k, m = next((r.n, r.k, r.m) for r in picked)
            ax.set_title(f"{size}: N={n}, K={k}, M={m}; Panacea {config}")
            ax.set_xlabel("top-slice vector sparsity (weights = activations)")
            ax.set_ylabel("effective TOPS")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    atomic_write(path, buf.getvalue())


def summary(rows: Sequence[SweepRow], config: str = "4D+8S") -> dict[str, float]:
    """Headline ratios on the diagonal, as the paper quotes them for Fig. 13: Panacea's (``config``,
    DTP on) best speedup over each dense baseline, the DTP gain at the highest sparsity, and the
    throughput ratio to SIMD at the lowest (below 1: slower at low sparsity). Over all sizes."""
    diag = [r for r in rows if r.weight_sparsity == r.act_sparsity]
    out: dict[str, float] = {}
    by = {(r.size, r.design, r.config, r.dtp, r.weight_sparsity): r for r in diag}
    sizes = list(dict.fromkeys(r.size for r in diag))
    levels = sorted({r.weight_sparsity for r in diag})
    names = {r.design for r in diag if not r.config and r.design != "Sibia"}
    pan = next(r.design for r in diag if r.config)
    for base in sorted(names):
        out[f"max speedup over {base}"] = max(
            by[size, base, "", False, s].cycles / by[size, pan, config, True, s].cycles
            for size in sizes
            for s in levels
        )
    top, low = levels[-1], levels[0]
    out[f"DTP gain at sparsity {top}"] = max(
        by[size, pan, config, False, top].cycles / by[size, pan, config, True, top].cycles for size in sizes
    )
    if "SIMD" in names:
        out[f"throughput vs SIMD at sparsity {low}"] = max(
            by[size, "SIMD", "", False, low].cycles / by[size, pan, config, True, low].cycles for size in sizes
        )
    return out
