"""Reports of ``panacea evaluate``: ``results.json`` (:class:`Results`) -> console tables, per-layer
CSV, PNG figures in the style of the paper's Figs. 14-18 and a ``report.md`` that embeds them.

:func:`render` needs only the results, so ``panacea report DIR`` re-renders without recomputing.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rich.console import Console

from panacea.core.files import atomic_write
from panacea.report.plots import plot_all
from panacea.report.tables import (
    ablation_table,
    accelerator_table,
    accuracy_table,
    energy_table,
    fig18_table,
    fig19_table,
)
from panacea.results.schema import Results

LAYER_FIELDS = (
    "act_vector_sparsity",
    "weight_vector_sparsity",
    "act_slice_sparsity",
    "weight_slice_sparsity",
    "lo_bits",
    "zero_point",
    "calls",
    "tokens",
)
# The arbitrary-quantization schemes' layers (panacea.quant.arbitrary.ArbitraryQuantizer.summary) carry
# their own fields.
AQ_LAYER_FIELDS = ("x_bits", "w_bits", "x_steps", "w_steps", "act_zero_codes", "act_stored_bits", "weight_stored_bits")


def _csv(header: list[str], rows: list[list]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode()


def layers_csv(res: Results) -> bytes:
    """One row per (scheme, layer): the measured sparsity and formats (Fig. 14's data); a field a
    scheme does not have is left empty."""
    fields = (*LAYER_FIELDS, *AQ_LAYER_FIELDS)
    rows = [[s.scheme, layer["name"], *(layer.get(f, "") for f in fields)] for s in res.schemes for layer in s.layers]
    return _csv(["scheme", "layer", *fields], rows)


MAPPING_FIELDS = (
    "outer",
    "block",
    "resident",
    "double_buffer",
    "inner",
    "sub_tile_rows",
    "tile_tokens",
    "tile_k",
    "dtp",
)


def layer_costs_csv(res: Results) -> bytes:
    """One row per (accelerator, scheme, variant, layer): cycles, energy and the layer's mapping
    (its fields, empty where the design has none, and its text)."""
    rows = [
        [
            c.accelerator,
            c.design,
            c.scheme,
            c.variant,
            layer.name,
            layer.cycles,
            f"{layer.energy_pj * 1e-6:.6f}",
            *(layer.mapping_fields.get(f, "") for f in MAPPING_FIELDS),
            layer.mapping,
        ]
        for c in res.costs
        for layer in c.layers
    ]
    header = ["accelerator", "design", "scheme", "variant", "layer", "cycles", "energy_uj"]
    return _csv([*header, *(f"mapping_{f}" for f in MAPPING_FIELDS), "mapping"], rows)


def tables(res: Results) -> list:
    built = (
        accuracy_table(res),
        accelerator_table(res),
        energy_table(res),
        ablation_table(res),
        fig18_table(res),
        fig19_table(res),
    )
    return [t for t in built if t is not None]


def report_markdown(res: Results, figures: list[Path]) -> str:
    cfg = res.config
    lines = [
        f"# panacea evaluate: {res.model['name']}",
        "",
        f"Model `{res.model['name']}` ({res.model['kind']}, {res.model['source']}); data {res.data}; "
        f"schemes {', '.join(cfg['schemes'])}; accelerators {', '.join(cfg['accelerators'])}; "
        f"mapping {cfg.get('mapping', 'fixed')} ({cfg.get('objective', 'energy')}). "
        f"panacea {res.panacea_version}, {res.created}. Re-render with `panacea report DIR`; "
        "per-layer numbers in `layers.csv` and `layer_costs.csv`, everything in `results.json`.",
        "",
    ]
    for table in tables(res):
        lines += [table.markdown(), ""]
    for path in figures:
        lines += [f"![{path.stem}]({path.name})", ""]
    return "\n".join(lines)


def render(res: Results, directory: str | Path, console: Console | None = None) -> list[Path]:
    """Write the CSVs, figures and ``report.md`` into ``directory``; print the tables to
    ``console`` if given. Returns the files written."""
    out = Path(directory)
    written = []
    for file, blob in (("layers.csv", layers_csv(res)), ("layer_costs.csv", layer_costs_csv(res))):
        atomic_write(out / file, blob)
        written.append(out / file)
    figures = plot_all(res, out)
    atomic_write(out / "report.md", report_markdown(res, figures).encode())
    if console is not None:
        for table in tables(res):
            console.print(table.rich())
            for note in table.notes:
                console.print(f"  {note}", style="dim")
    return [*written, *figures, out / "report.md"]


__all__ = ["render"]
