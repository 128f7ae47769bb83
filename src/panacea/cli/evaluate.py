"""``panacea evaluate`` (the main job), ``panacea ptq`` (accuracy and sparsity only) and ``panacea
report`` (re-rendering an output directory without recomputing)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import typer
from rich.console import Console

from panacea.cli import _options as opt
from panacea.cli._common import StageProgress, fail, header, interruptible, run_with_progress
from panacea.core.files import atomic_write
from panacea.models.loaders import ModelNotAvailable

_DATA = typer.Option(
    None,
    help="Causal LMs: wikipedia (default), news, wikitext2, a text file or a WikiText-2 directory; "
    "encoders: polarity; image classifiers: photos.",
)
_ACCELERATORS = typer.Option(
    None,
    help="Comma-separated shipped designs (panacea, sibia, simd, sa-ws, sa-os, aq-bitserial) or TOML spec "
    "files. Default: all shipped designs (aq-bitserial only when an aq scheme runs).",
)
_SCHEMES = typer.Option(
    "sym,asym,zpm,dbs,aq",
    help="Comma-separated shipped schemes (sym, asym, zpm-paper, zpm, dbs, optq4, sym-optq4, aq) or scheme TOML files.",
)
_PROFILE = typer.Option(
    "accurate", help="Assumptions: accurate (per-channel weights), paper (our reading), or a profile TOML file."
)
_ASSUMPTIONS = typer.Option(
    [],
    "--set",
    help="KEY=VALUE: a calibration field for every scheme that leaves it unset, over the profile "
    "(e.g. --set w_granularity=tensor --set dbs_target=0.75); repeatable.",
)
_OUT = typer.Option(Path("panacea-results"), help="Output directory (results, CSV, plots, report, cache).")


@interruptible("run it again with --resume to continue from the stages that finished (cached in OUT/cache)")
def evaluate(
    model: str = opt.MODEL,
    data: str | None = _DATA,
    accelerators: str | None = _ACCELERATORS,
    schemes: str = _SCHEMES,
    profile: str = _PROFILE,
    assumption: list[str] = _ASSUMPTIONS,
    out: Path = _OUT,
    tokens: int = opt.TOKENS,
    calib_tokens: int = opt.CALIB_TOKENS,
    seqlen: int = opt.SEQLEN,
    batch_size: int = opt.BATCH_SIZE,
    energy: Path | None = opt.ENERGY,
    resume: bool = opt.RESUME,
    paper_overrides: bool = opt.PAPER_OVERRIDES,
    mapping: str = opt.MAPPING,
    objective: str = opt.OBJECTIVE,
    device: str = opt.DEVICE,
    stream: bool = opt.STREAM,
) -> None:
    """The main job: calibrate, score each scheme, capture the workloads, cost them on every design.

    Writes OUT/results.json, layers.csv, layer_costs.csv, the Fig. 14-18 plots and report.md.

    Example: panacea evaluate minilm-l6 --accelerators panacea,sibia,simd --out minilm-results --resume
    """
    from panacea.flows.evaluate import EvaluateConfig
    from panacea.flows.evaluate import evaluate as run_evaluate
    from panacea.report import render

    config = opt.config(
        EvaluateConfig,
        model=model,
        data=data,
        schemes=opt.names(schemes),
        profile=profile,
        assumptions=opt.assignments(assumption),
        accelerators=None if accelerators is None else opt.names(accelerators),
        tokens=tokens,
        calib_tokens=calib_tokens,
        seqlen=seqlen,
        batch_size=batch_size,
        paper_overrides=paper_overrides,
        energy=None if energy is None else str(energy),
        mapping=mapping,
        objective=objective,
        device=device,
        stream=stream,
    )
    console = Console()
    results = run_with_progress(console, functools.partial(run_evaluate, config, out, resume=resume), header(device))
    render(results, out, console)
    cached = [s.scheme for s in results.schemes if s.cached]
    console.print(
        f"{results.seconds['total']:.0f} s" + (f" (re-used from the cache: {', '.join(cached)})" if cached else "")
    )
    console.print(f"report: {out / 'report.md'} (results.json, layers.csv, layer_costs.csv and the plots beside it)")


@interruptible("run it again (--out is written only at the end)")
def ptq(
    model: str = opt.MODEL,
    schemes: str = typer.Option(
        "fp32,sym,asym,zpm,dbs,optq4",
        help="Comma-separated: fp32 and shipped schemes (sym, asym, zpm-paper, zpm, dbs, optq4, sym-optq4, aq) "
        "or scheme TOML files.",
    ),
    profile: str = opt.PROFILE,
    assumption: list[str] = typer.Option(
        [], "--set", help="KEY=VALUE: a calibration field for every scheme that leaves it unset (repeatable)."
    ),
    windows: int = typer.Option(32, min=1, help="Evaluation windows (causal LMs)."),
    seqlen: int = typer.Option(512, min=2, help="Tokens per window (causal LMs)."),
    calib_windows: int = typer.Option(32, min=1, help="Calibration windows (causal LMs), after the evaluation ones."),
    out: Path | None = typer.Option(
        None, help="Write the full result (per-layer sparsity included) to this JSON file."
    ),
    paper_overrides: bool = opt.PAPER_OVERRIDES,
    device: str = opt.DEVICE,
    stream: bool = opt.STREAM,
) -> None:
    """Post-training quantization study: accuracy and measured sparsity per scheme.

    Example: panacea ptq smollm2-135m --windows 32 --seqlen 512
    """
    from panacea.flows.ptq import ptq_study
    from panacea.report.console import ptq_notes, ptq_table

    console = Console()
    with StageProgress(console, header(device)) as progress:
        try:
            result = ptq_study(
                model,
                schemes=opt.names(schemes),
                profile=profile,
                assumptions=opt.assignments(assumption),
                windows=windows,
                seqlen=seqlen,
                calib_windows=calib_windows,
                paper_overrides=paper_overrides,
                device=device,
                stream=stream,
                progress=progress,
            )
        except (ModelNotAvailable, ValueError) as err:
            fail(str(err))
    console.print(ptq_table(result))
    console.print(ptq_notes(result))
    if out is not None:
        atomic_write(out, json.dumps(result.to_dict(), indent=1).encode())
        console.print(f"wrote {out}")


@interruptible("run it again")
def report(
    directory: Path = typer.Argument(..., help="An output directory of panacea evaluate or panacea reproduce."),
) -> None:
    """Re-render tables, CSV, plots and the report from DIR/results.json (panacea evaluate) or
    DIR/reproduce.json (panacea reproduce), without recomputing.

    Example: panacea report panacea-results
    """
    from panacea.report import render
    from panacea.report.reproduction import console_table
    from panacea.report.reproduction import render as render_reproduction
    from panacea.results import Results
    from panacea.results.reproduction import Reproduction

    console = Console()
    try:
        if (directory / Reproduction.NAME).is_file():
            repro = Reproduction.load(directory)
            render_reproduction(repro, directory)
            for table in console_table(repro):
                console.print(table)
            console.print(f"report: {directory / 'reproduce.md'}")
            return
        render(Results.load(directory), directory, console)
    except (ValueError, OSError) as err:
        fail(str(err))
    console.print(f"report: {directory / 'report.md'}")
