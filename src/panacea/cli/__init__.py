"""The ``panacea`` command line: one module per group of commands, each command a thin wrapper
(parse the options, call the library, print what :mod:`panacea.report` renders)."""

from __future__ import annotations

import signal

import typer

import panacea
from panacea.cli import demo, dse, evaluate, hw, reproduce, rtl
from panacea.cli._common import on_sigterm

app = typer.Typer(
    help="Panacea (HPCA 2025) in software: asymmetric bit-slice quantization, the exact AQS-GEMM, "
    "and accelerator cost models.",
    no_args_is_help=True,
    add_completion=False,
    epilog="Examples: panacea evaluate (SmolLM2, all designs, into ./panacea-results) | "
    "panacea evaluate minilm-l6 --schemes sym,dbs --out minilm --resume | panacea report minilm | "
    "panacea reproduce --out repro | panacea sweep --out sweep | "
    "panacea cost --spec panacea --shape 1024x768x3072 | panacea aq-peak | "
    "panacea ptq smollm2-135m --windows 8 | panacea gemm-demo --tokens 512",
)
app.add_typer(rtl.app, name="rtl")


def run() -> None:
    """The ``panacea`` console script: the CLI, with SIGTERM handled like Ctrl-C."""
    signal.signal(signal.SIGTERM, on_sigterm)
    app()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"panacea {panacea.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Panacea (HPCA 2025) in software."""


# In the order `panacea --help` lists them.
app.command("gemm-demo")(demo.gemm_demo)
app.command("ptq")(evaluate.ptq)
app.command("evaluate")(evaluate.evaluate)
app.command("reproduce")(reproduce.reproduce)
app.command("report")(evaluate.report)
app.command("sweep")(hw.sweep)
app.command("dse")(dse.dse)
app.command("aq-peak")(hw.aq_peak)
app.command("cost")(hw.cost)
