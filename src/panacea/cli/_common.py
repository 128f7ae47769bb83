"""What every ``panacea`` command shares: one-line errors, interruption (Ctrl-C, SIGTERM), stage
progress bars and a run's header."""

from __future__ import annotations

import functools
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

import panacea
from panacea.models.loaders import ModelNotAvailable


class Terminated(KeyboardInterrupt):
    """SIGTERM (a batch scheduler, ``kill``), handled as Ctrl-C is: temporary files are removed."""


def on_sigterm(signum, frame) -> None:
    raise Terminated


def interruptible(after: str):
    """Register a command whose interruption (Ctrl-C, SIGTERM) ends in one line on stderr, exit 130
    (143 for SIGTERM), instead of a traceback. ``after``: what the user can do next. Every file is
    written atomically, so nothing half-written is left behind."""

    def wrap(fn):
        @functools.wraps(fn)
        def command(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except KeyboardInterrupt as err:
                typer.echo(f"interrupted: nothing half-written was left behind; {after}", err=True)
                raise typer.Exit(143 if isinstance(err, Terminated) else 130) from None

        return command

    return wrap


def fail(message: str) -> NoReturn:
    """One line on stderr, exit code 2 (bad input, missing model or data)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


class StageProgress:
    """A progress bar per stage with its ETA, shown only once a stage reports (so an early error
    prints nothing else), under the run's ``header`` then; a callable ``(stage, done, total)``."""

    def __init__(self, console: Console, header: str | None = None):
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
        self._header = header

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self._tasks:
            self._bar.stop()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self._tasks:
            if self._header:
                self._bar.console.print(self._header)
            self._bar.start()
        if stage not in self._tasks:
            self._tasks[stage] = self._bar.add_task(stage, total=total)
        self._bar.update(self._tasks[stage], completed=done)


def header(device: str) -> str:
    """A run's header: the versions, the CPU and the exact integer GEMM back end of every device the
    run uses (chosen now: a bad ``PANACEA_INTMM`` is one line, exit 2)."""
    import torch

    from panacea.core.intmm_choice import cpu_features
    from panacea.flows.evaluate import integer_backends

    try:
        backends = integer_backends(device)
    except ValueError as err:
        fail(str(err))
    versions = f"panacea {panacea.__version__}, torch {torch.__version__}"
    machine = f"{cpu_features()}, {torch.get_num_threads()} threads"
    return "\n".join([f"{versions}, {machine}", *(choice.describe() for choice in backends.values())])


def run_with_progress(console: Console, job, heading: str | None = None):
    """``job(progress=...)`` under stage progress bars (and ``heading``); a missing model or data, bad
    input or an unwritable output ends in one line (exit 2)."""
    with StageProgress(console, heading) as progress:
        try:
            return job(progress=progress)
        except (ModelNotAvailable, ValueError, OSError) as err:
            fail(str(err))
