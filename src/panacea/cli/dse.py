"""``panacea dse``: design-space exploration on a model's workloads (:mod:`panacea.flows.dse`)."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console

from panacea.cli import _options as opt
from panacea.cli._common import fail, interruptible, run_with_progress
from panacea.flows.executors import make_executor


@interruptible("run it again: the points that finished are stored under OUT/points")
def dse(
    model: str = typer.Argument("smollm2-135m", help="Built-in name, hub id or directory (its workloads)."),
    space: Path = typer.Option(..., help="Design space TOML (base, vary, constraints, objectives)."),
    out: Path = typer.Option(Path("dse-results"), help="Output directory (points, front, plot, specs, cache)."),
    profile: str = opt.PROFILE,
    jobs: int = opt.JOBS,
    executor: str = opt.EXECUTOR,
    address: str | None = opt.ADDRESS,
    trials: int | None = typer.Option(
        None, min=1, help="NSGA-II trials (Optuna) instead of every point; needed above 4096 points."
    ),
    tokens: int = opt.TOKENS,
    calib_tokens: int = opt.CALIB_TOKENS,
    seqlen: int = opt.SEQLEN,
    batch_size: int = opt.BATCH_SIZE,
) -> None:
    """Design-space exploration: every design of SPACE on MODEL's workloads, and its Pareto front.

    Example: panacea dse smollm2-135m --space examples/dse-fig13.toml --out dse-results --jobs 2
    """
    from panacea.flows.dse import MAX_EXHAUSTIVE, explore, load_space
    from panacea.flows.evaluate import EvaluateConfig
    from panacea.report.console import pareto_front_table

    try:
        runner = make_executor(executor, jobs, address)
        the_space = load_space(space)
        config = EvaluateConfig(
            model=model, profile=profile, tokens=tokens, calib_tokens=calib_tokens, seqlen=seqlen, batch_size=batch_size
        )
    except ValidationError as err:
        fail(opt.validation_line(err))
    except ValueError as err:
        fail(str(err))
    if trials is None and the_space.size > MAX_EXHAUSTIVE:
        fail(f"space: {the_space.size} points is more than {MAX_EXHAUSTIVE} to cost one by one: give --trials")
    console = Console()
    rows = run_with_progress(
        console, lambda progress: explore(the_space, config, out, executor=runner, trials=trials, progress=progress)
    )
    console.print(pareto_front_table(model, space.name, the_space, rows))
    console.print(f"wrote {out / 'points.csv'}, {out / 'front.csv'}, {out / 'pareto.png'} and {out / 'front'}/")
