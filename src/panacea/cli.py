"""The ``panacea`` command line."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

import panacea
from panacea.demo import run_gemm_demo

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
