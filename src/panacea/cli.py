"""The ``panacea`` command line."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

import panacea
from panacea._io import atomic_write
from panacea.demo import run_gemm_demo
from panacea.models.loaders import ModelNotAvailable

app = typer.Typer(
    help="Panacea (HPCA 2025) in software: asymmetric bit-slice quantization, the exact AQS-GEMM, "
    "and accelerator cost models.",
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"panacea {panacea.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Panacea (HPCA 2025) in software."""


@app.command("gemm-demo")
def gemm_demo(
    tokens: int = typer.Option(1024, min=1, help="Tokens N (rows of the activation matrix)."),
    in_features: int = typer.Option(768, min=1, help="Input features K."),
    out_features: int = typer.Option(3072, min=1, help="Output features M."),
    seed: int = typer.Option(0, min=0, help="Seed of the synthetic data."),
) -> None:
    """One GPT-2-sized layer through Sibia's bit-slice GEMM and the AQS-GEMM (+ZPM, +DBS).

    Example: panacea gemm-demo --tokens 512
    """
    report = run_gemm_demo(tokens, in_features, out_features, seed)
    console = Console()
    console.print(
        f"GPT-2 MLP c_fc shape: x[{report.tokens}, {report.in_features}] @ w[{report.out_features}, "
        f"{report.in_features}].T;\nsynthetic LayerNorm-like activations with outlier channels, heavy-tailed weights"
    )
    console.print(
        f"asymmetric 8-bit zero point {report.zero_point}; ZPM -> {report.zpm_zero_point}; "
        f"DBS picks lo_bits={report.lo_bits}"
    )
    table = Table(title="Top-slice vector sparsity, work and storage (v = 4, 4-bit RLE indices)")
    for col in ("scheme", "exact", "act sp.", "wt sp.", "mults", "bits", "error"):
        table.add_column(col, justify="left" if col == "scheme" else "right", no_wrap=True)
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
    console.print(table)
    console.print(
        "exact: integer output == an independent dense product (of x~ under DBS)\n"
        "act sp. / wt sp.: top-slice vectors compressed (activations / weights)\n"
        "mults: 4b x 4b multiplications executed / those of the dense bit-slice GEMM\n"
        "bits: stored operand bits incl. RLE indices (Sibia: uncompressed) / dense slices\n"
        "error: relative Frobenius error of the dequantized output vs FP32"
    )
    if not all(row.exact for row in report.rows):
        raise typer.Exit(1)


def _fail(message: str) -> None:
    """One line on stderr, exit code 2 (bad input, missing model or data)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


class _StageProgress:
    """A progress bar per stage with its ETA, shown only once a stage reports (so an early error
    prints nothing else); a callable ``(stage, done, total)``."""

    def __init__(self, console: Console):
        self._bar = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._tasks: dict[str, int] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self._tasks:
            self._bar.stop()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self._tasks:
            self._bar.start()
        if stage not in self._tasks:
            self._tasks[stage] = self._bar.add_task(stage, total=total)
        self._bar.update(self._tasks[stage], completed=done)


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


@app.command("ptq")
def ptq(
    model: str = typer.Argument(
        "smollm2-135m", help="Built-in name (smollm2-135m, minilm-l6, efficientnet-lite0), hub id or directory."
    ),
    schemes: str = typer.Option(
        "fp32,sym,asym,zpm,dbs,optq4", help="Comma-separated schemes (fp32, sym, asym, zpm-paper, zpm, dbs, optq4)."
    ),
    windows: int = typer.Option(32, min=1, help="Evaluation windows (causal LMs)."),
    seqlen: int = typer.Option(512, min=2, help="Tokens per window (causal LMs)."),
    calib_windows: int = typer.Option(32, min=1, help="Calibration windows (causal LMs), after the evaluation ones."),
    out: Path | None = typer.Option(
        None, help="Write the full result (per-layer sparsity included) to this JSON file."
    ),
    paper_overrides: bool = typer.Option(
        True, help="The paper's mixed precision (12-bit Llama down_proj inputs, 10-bit GPT-2 MLP weights)."
    ),
) -> None:
    """Post-training quantization study: accuracy and measured sparsity per scheme.

    Example: panacea ptq smollm2-135m --windows 32 --seqlen 512
    """
    from panacea.study import ptq_study

    console = Console()
    with _StageProgress(console) as progress:
        try:
            result = ptq_study(
                model,
                schemes=tuple(s.strip() for s in schemes.split(",") if s.strip()),
                windows=windows,
                seqlen=seqlen,
                calib_windows=calib_windows,
                paper_overrides=paper_overrides,
                progress=progress,
            )
        except (ModelNotAvailable, ValueError) as err:
            _fail(str(err))
    table = Table(title=f"{result.model}: accuracy and measured top-slice sparsity per scheme")
    metrics = list(result.schemes[0].metrics)
    short = {
        "perplexity": "ppl",
        "embedding_cosine_to_fp32": "cos fp32",
        "polarity_accuracy": "polarity",
        "top1_agreement_with_fp32": "top-1 agree",
    }
    for col in ("scheme", *(short.get(m, m) for m in metrics), "act vec", "wt vec", "act slice", "mults", "bits"):
        table.add_column(col, justify="left" if col == "scheme" else "right", no_wrap=True)
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
    console.print(table)
    console.print(
        f"data: {result.data}; calibration {result.calibration_seconds:.0f} s.\n"
        "act/wt vec: mean over layers of the top-slice vectors compressed; act slice: of single top slices;\n"
        "mults/bits: 4b x 4b multiplications / stored bits over the dense bit-slice GEMM's, all layers."
    )
    if out is not None:
        atomic_write(out, json.dumps(result.to_dict(), indent=1).encode())
        console.print(f"wrote {out}")
