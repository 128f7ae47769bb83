"""``reproduce.md``, the console table and the tornado charts of a :class:`Reproduction`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rich.table import Table as RichTable

from panacea.core.files import atomic_write
from panacea.report.plots import pyplot, save_figure
from panacea.report.tables import METRIC_NAMES
from panacea.results.paper import SYNTHETIC
from panacea.results.reproduction import MATCH, METRICS, NOT_STATED, PROFILES, ClaimRow, Reproduction, SensitivityRow


def fmt(value: float | None, unit: str) -> str:
    """A claim's number in its unit: fractions as %, ratios as x, percentage points as %p."""
    if value is None:
        return "–"
    if unit == "fraction":
        return f"{value:.1%}"
    if unit == "pp":
        return f"{100 * value:+.1f} %p"
    return f"{value:.2f}x"


def _cell(row: ClaimRow, profile: str) -> str:
    ours, ratio, within = row.ours.get(profile), row.ratio.get(profile), row.within.get(profile)
    if ours is None:
        return "–"
    mark = "" if within is None else (" ✓" if within else " ✗")
    return fmt(ours, row.unit) + ("" if ratio is None else f" ({ratio:.2f}{mark})")


def _accuracy(row: ClaimRow) -> str:
    if not row.accuracy or row.accuracy_metric is None:
        return "–"
    name = METRIC_NAMES.get(row.accuracy_metric, row.accuracy_metric)
    return f"{name} " + " / ".join("–" if row.accuracy.get(p) is None else f"{row.accuracy[p]:.4g}" for p in PROFILES)


def _by_model(repro: Reproduction) -> dict[str, list[ClaimRow]]:
    """The rows per model of ours, in the run's order, the synthetic sweep last."""
    out: dict[str, list[ClaimRow]] = {m["name"]: [] for m in repro.models}
    for r in repro.rows:
        out.setdefault(r.model, []).append(r)
    return {model: rows for model, rows in out.items() if rows}


def _title(model: str, rows: list[ClaimRow]) -> str:
    if model.startswith(SYNTHETIC):
        return model
    stands_for = [m for m in dict.fromkeys(r.paper_model for r in rows) if m != NOT_STATED]
    return f"{Path(model).name}, standing in for {', '.join(stands_for)}"


def claims_table(rows: list[ClaimRow]) -> tuple[list[str], list[list[str]]]:
    cols = ["claim", "paper", *(f"{p} profile (ratio)" for p in PROFILES), "accuracy (dbs)", "rests on"]
    cols.append("sensitivity")
    cells = [
        [
            f"`{r.id}` {r.claim} ({r.where})",
            f"{fmt(r.paper, r.unit)} ({r.paper_model})",
            *(_cell(r, p) for p in PROFILES),
            _accuracy(r),
            ", ".join(r.rests_on) or "–",
            r.explained_by or "",
        ]
        for r in rows
    ]
    return cols, cells


def _markdown_table(cols: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    return lines + ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in rows]


def sensitivity_table(repro: Reproduction, model: str) -> tuple[list[str], list[list[str]]]:
    """One row per (assumption, value) of ``model``: each metric (its change over the base) and
    the accuracy of the dbs scheme."""
    points: dict[tuple[str, str], dict[str, SensitivityRow]] = {}
    for r in repro.sensitivity:
        if r.model == model:
            points.setdefault((r.assumption, r.value), {})[r.metric] = r
    cols = ["assumption", "value", *METRICS, "accuracy (dbs)"]
    rows = []
    for (assumption, value), by in points.items():
        first = next(iter(by.values()))
        cells = [f"{by[m].ours:.2f}x" + ("" if first.base else f" ({by[m].change:+.0%})") for m in METRICS]
        label = f"**{value}** (paper profile)" if first.base else value
        accuracy = (
            "–" if first.accuracy is None else f"{METRIC_NAMES.get(first.accuracy_metric, '')} {first.accuracy:.4g}"
        )
        rows.append([assumption, label, *cells, accuracy.strip()])
    return cols, rows


def write_markdown(repro: Reproduction, out: Path, charts: list[Path]) -> Path:
    cfg = repro.config
    models = ", ".join(f"`{m['name']}` ({m['kind']}, {int(m['parameters']) / 1e6:.1f}M)" for m in repro.models)
    matched = {p: sum(bool(r.within.get(p)) for r in repro.rows) for p in PROFILES}
    lines = [
        "# panacea reproduce",
        "",
        f"Models: {models}. Sensitivity: {cfg['sensitivity']}. Causal LMs: {cfg['tokens']} evaluation and "
        f"{cfg['calib_tokens']} calibration tokens in windows of {cfg['seqlen']}. panacea {repro.panacea_version}, "
        f"{repro.created}; {repro.seconds.get('total', 0):.0f} s. Everything is in `reproduce.json`; each model's "
        "full `panacea evaluate` output under `MODEL/PROFILE/`.",
        "",
        "## The paper's claims beside ours",
        "",
        f"Each claim on the nearest model of the run; ours under each profile with ours / paper in brackets, "
        f"✓ within ±{MATCH:.0%}. Within ±{MATCH:.0%}: "
        + ", ".join(f"{matched[p]} of {len(repro.rows)} rows under `{p}`" for p in PROFILES)
        + ". *sensitivity*: for a claim the sensitivity table varies and that the `paper` profile misses, "
        "the single assumption values that bring it within the band.",
        "",
    ]
    for model, rows in _by_model(repro).items():
        lines += [f"**{_title(model, rows)}**", "", *_markdown_table(*claims_table(rows)), ""]
    lines += [
        "## Sensitivity around the paper profile",
        "",
        "Panacea (dbs) against Sibia (sym) and SIMD (dbs), one assumption varied at a time; in brackets the "
        "change over the paper profile's value.",
        "",
    ]
    for m in repro.models:
        cols, rows = sensitivity_table(repro, m["name"])
        if rows:
            lines += [f"**{m['name']}**", "", *_markdown_table(cols, rows), ""]
    lines += [f"![{c.stem}]({c.name})" for c in charts] + ["", "## Not computed", ""]
    lines += [f"- {n['claim']}: {n['why']}" for n in repro.not_computed]
    path = out / "reproduce.md"
    atomic_write(path, ("\n".join(lines) + "\n").encode())
    return path


def console_table(repro: Reproduction) -> list[RichTable]:
    """The claims, compactly, one table per model of ours: what ``make demo`` prints."""
    tables = []
    for model, rows in _by_model(repro).items():
        t = RichTable(title=f"{_title(model, rows)}: ours (ours / paper, ✓ within ±{MATCH:.0%})")
        for i, c in enumerate(("claim", "paper", *(f"{p} profile" for p in PROFILES))):
            t.add_column(c, justify="left" if i == 0 else "right", no_wrap=i == 0)
        for r in rows:
            t.add_row(r.id, fmt(r.paper, r.unit), *(_cell(r, p) for p in PROFILES))
        tables.append(t)
    return tables


def tornado(repro: Reproduction, model: str, path: Path) -> Path | None:
    """Per metric, each assumption's range of Panacea's gain relative to the paper profile's value,
    the widest on top (a tornado chart); the value labels at the bar ends."""
    rows = [r for r in repro.sensitivity if r.model == model]
    if not rows:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(13, 8))
    for ax, metric in zip(axes.flat, METRICS, strict=True):
        by: dict[str, list[SensitivityRow]] = {}
        for r in rows:
            if r.metric == metric:
                by.setdefault(r.assumption, []).append(r)
        spans = sorted(by.items(), key=lambda kv: max(r.change for r in kv[1]) - min(r.change for r in kv[1]))
        base = next(r.ours for r in rows if r.metric == metric and r.base)
        for y, (_, points) in enumerate(spans):
            lo, hi = min(points, key=lambda r: r.change), max(points, key=lambda r: r.change)
            ax.barh(y, 100 * lo.change, color="tab:blue", alpha=0.7)
            ax.barh(y, 100 * hi.change, color="tab:orange", alpha=0.7)
            for p, side in ((lo, "right"), (hi, "left")):
                if not p.base:
                    ax.text(100 * p.change, y, f" {p.value} ", va="center", ha=side, fontsize=7)
        ax.set_yticks(range(len(spans)), [a for a, _ in spans], fontsize=8)
        ax.margins(x=0.2)  # room for the value labels
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlabel(f"change of Panacea's {metric} (%; paper profile: {base:.2f}x)")
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"{Path(model).name}: sensitivity of the comparison to each assumption, around the paper profile")
    fig.tight_layout()
    return save_figure(fig, path)


def render(repro: Reproduction, out: str | Path) -> list[Path]:
    """Write the tornado charts and ``reproduce.md`` of ``repro`` into ``out`` (``panacea report``
    re-renders a reproduction this way, without recomputing); returns the files written."""
    out = Path(out)
    charts = [tornado(repro, m["name"], out / f"tornado-{m['directory']}.png") for m in repro.models]
    charts = [c for c in charts if c is not None]
    return [*charts, write_markdown(repro, out, charts)]
