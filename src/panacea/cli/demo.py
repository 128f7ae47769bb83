"""``panacea gemm-demo``: one GPT-2-sized layer through the bit-slice GEMMs (:mod:`panacea.flows.demo`)."""

from __future__ import annotations

import typer
from rich.console import Console

from panacea.cli._common import interruptible
from panacea.flows.demo import run_gemm_demo


@interruptible("run it again")
def gemm_demo(
    tokens: int = typer.Option(1024, min=1, help="Tokens N (rows of the activation matrix)."),
    in_features: int = typer.Option(768, min=1, help="Input features K."),
    out_features: int = typer.Option(3072, min=1, help="Output features M."),
    seed: int = typer.Option(0, min=0, help="Seed of the synthetic data."),
) -> None:
    """One GPT-2-sized layer through Sibia's bit-slice GEMM and the AQS-GEMM (+ZPM, +DBS).

    Example: panacea gemm-demo --tokens 512
    """
    from panacea.report.console import GEMM_DEMO_NOTES, gemm_demo_header, gemm_demo_table

    report = run_gemm_demo(tokens, in_features, out_features, seed)
    console = Console()
    for line in gemm_demo_header(report):
        console.print(line)
    console.print(gemm_demo_table(report))
    console.print(GEMM_DEMO_NOTES)
    if not all(row.exact for row in report.rows):
        raise typer.Exit(1)
