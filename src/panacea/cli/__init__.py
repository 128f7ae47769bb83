"""The ``panacea`` command line."""

from __future__ import annotations

import functools
import json
import signal
import tomllib
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

import panacea
from panacea.core.checks import first_error
from panacea.core.files import atomic_write
from panacea.flows.demo import run_gemm_demo
from panacea.flows.executors import make_executor
from panacea.hw.area import AREA_COMPONENTS
from panacea.models.loaders import ModelNotAvailable

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

from panacea.cli.rtl import app as _rtl_app  # noqa: E402

app.add_typer(_rtl_app, name="rtl")


class _Terminated(KeyboardInterrupt):
    """SIGTERM (a batch scheduler, ``kill``), handled as Ctrl-C is: temporary files are removed."""


def _on_sigterm(signum, frame) -> None:
    raise _Terminated


def run() -> None:
    """The ``panacea`` console script: the CLI, with SIGTERM handled like Ctrl-C."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    app()


def _interruptible(after: str):
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
                raise typer.Exit(143 if isinstance(err, _Terminated) else 130) from None

        return command

    return wrap


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
@_interruptible("run it again")
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


def _header(device: str) -> str:
    """A run's header: the versions, the CPU and the exact integer GEMM back end of every device the
    run uses (chosen now: a bad ``PANACEA_INTMM`` is one line, exit 2)."""
    import torch

    from panacea.core.intmm_choice import cpu_features
    from panacea.flows.evaluate import integer_backends

    try:
        backends = integer_backends(device)
    except ValueError as err:
        _fail(str(err))
    versions = f"panacea {panacea.__version__}, torch {torch.__version__}"
    machine = f"{cpu_features()}, {torch.get_num_threads()} threads"
    return "\n".join([f"{versions}, {machine}", *(choice.describe() for choice in backends.values())])


def _run_with_progress(console: Console, job, header: str | None = None):
    """``job(progress)`` under stage progress bars (and ``header``); a missing model or data, bad
    input or an unwritable output ends in one line (exit 2)."""
    with _StageProgress(console, header) as progress:
        try:
            return job(progress)
        except (ModelNotAvailable, ValueError, OSError) as err:
            _fail(str(err))


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


# Where a model runs and how it is held (ptq, evaluate, reproduce).
_DEVICE = typer.Option(
    "cpu", help="Where the model, its observers, OPTQ and integer GEMMs run: cpu, cuda or auto (cuda if present)."
)
_STREAM = typer.Option(
    True,
    help="Load a local or hub model block-streamed: its blocks stay in the checkpoint's dtype (bf16/fp16), "
    "each widened to float32 only while it runs (same results, a fraction of the memory).",
)


@app.command("ptq")
@_interruptible("run it again (--out is written only at the end)")
def ptq(
    model: str = typer.Argument(
        "smollm2-135m", help="Built-in name (smollm2-135m, minilm-l6, efficientnet-lite0), hub id or directory."
    ),
    schemes: str = typer.Option(
        "fp32,sym,asym,zpm,dbs,optq4",
        help="Comma-separated: fp32 and shipped schemes (sym, asym, zpm-paper, zpm, dbs, optq4, sym-optq4, aq) "
        "or scheme TOML files.",
    ),
    profile: str = typer.Option("accurate", help="Assumptions: accurate, paper, or a profile TOML file."),
    assumption: list[str] = typer.Option(
        [], "--set", help="KEY=VALUE: a calibration field for every scheme that leaves it unset (repeatable)."
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
    device: str = _DEVICE,
    stream: bool = _STREAM,
) -> None:
    """Post-training quantization study: accuracy and measured sparsity per scheme.

    Example: panacea ptq smollm2-135m --windows 32 --seqlen 512
    """
    from panacea.flows.ptq import ptq_study

    console = Console()
    with _StageProgress(console, _header(device)) as progress:
        try:
            result = ptq_study(
                model,
                schemes=_names(schemes),
                profile=profile,
                assumptions=_assignments(assumption),
                windows=windows,
                seqlen=seqlen,
                calib_windows=calib_windows,
                paper_overrides=paper_overrides,
                device=device,
                stream=stream,
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


def _names(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def _assignments(items: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` pairs; a value is read as TOML (``0.75``, ``true``, ``"x"``), else as a string."""
    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            _fail(f"--set takes KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value.strip()
    return out


def _validation_line(err: ValidationError) -> str:
    where, message = first_error(err)
    return f"{where}: {message}"


# The options `panacea evaluate` and `panacea reproduce` share.
_TOKENS = typer.Option(8192, min=2, help="Evaluation tokens (causal LMs).")
_CALIB_TOKENS = typer.Option(4096, min=2, help="Calibration tokens (causal LMs), after the evaluation ones.")
_SEQLEN = typer.Option(512, min=2, help="Tokens per window (causal LMs).")
_BATCH_SIZE = typer.Option(4, min=1, help="Windows per batch (causal LMs); a batch is one costed call.")
_RESUME = typer.Option(False, help="Re-use calibration and captured workloads cached under OUT/cache.")
_MAPPING = typer.Option(
    "search", help="How each design maps each GEMM: search (the best mapping per layer) or fixed (the spec's tiles)."
)
_OBJECTIVE = typer.Option("energy", help="What the mapping search minimises: energy, latency or edp.")


@app.command("evaluate")
@_interruptible("run it again with --resume to continue from the stages that finished (cached in OUT/cache)")
def evaluate(
    model: str = typer.Argument(
        "smollm2-135m", help="Built-in name (smollm2-135m, minilm-l6, efficientnet-lite0), hub id or directory."
    ),
    data: str | None = typer.Option(
        None,
        help="Causal LMs: wikipedia (default), news, wikitext2, a text file or a WikiText-2 directory; "
        "encoders: polarity; image classifiers: photos.",
    ),
    accelerators: str | None = typer.Option(
        None,
        help="Comma-separated shipped designs (panacea, sibia, simd, sa-ws, sa-os, aq-bitserial) or TOML spec "
        "files. Default: all shipped designs (aq-bitserial only when an aq scheme runs).",
    ),
    schemes: str = typer.Option(
        "sym,asym,zpm,dbs,aq",
        help="Comma-separated shipped schemes (sym, asym, zpm-paper, zpm, dbs, optq4, sym-optq4, aq) or scheme "
        "TOML files.",
    ),
    profile: str = typer.Option(
        "accurate", help="Assumptions: accurate (per-channel weights), paper (our reading), or a profile TOML file."
    ),
    assumption: list[str] = typer.Option(
        [],
        "--set",
        help="KEY=VALUE: a calibration field for every scheme that leaves it unset, over the profile "
        "(e.g. --set w_granularity=tensor --set dbs_target=0.75); repeatable.",
    ),
    out: Path = typer.Option(Path("panacea-results"), help="Output directory (results, CSV, plots, report, cache)."),
    tokens: int = _TOKENS,
    calib_tokens: int = _CALIB_TOKENS,
    seqlen: int = _SEQLEN,
    batch_size: int = _BATCH_SIZE,
    energy: Path | None = typer.Option(None, help="Energy table TOML (default: the shipped 28 nm one)."),
    resume: bool = _RESUME,
    paper_overrides: bool = typer.Option(
        True, help="The paper's mixed precision (12-bit Llama down_proj inputs, 10-bit GPT-2 MLP weights)."
    ),
    mapping: str = _MAPPING,
    objective: str = _OBJECTIVE,
    device: str = _DEVICE,
    stream: bool = _STREAM,
) -> None:
    """The main job: calibrate, score each scheme, capture the workloads, cost them on every design.

    Writes OUT/results.json, layers.csv, layer_costs.csv, the Fig. 14-18 plots and report.md.

    Example: panacea evaluate minilm-l6 --accelerators panacea,sibia,simd --out minilm-results --resume
    """
    from panacea.flows.evaluate import EvaluateConfig
    from panacea.flows.evaluate import evaluate as run_evaluate
    from panacea.report import render

    try:
        config = EvaluateConfig(
            model=model,
            data=data,
            schemes=_names(schemes),
            profile=profile,
            assumptions=_assignments(assumption),
            accelerators=None if accelerators is None else _names(accelerators),
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
    except ValidationError as err:
        _fail(_validation_line(err))
    console = Console()
    job = functools.partial(run_evaluate, config, out, resume=resume)
    results = _run_with_progress(console, lambda progress: job(progress=progress), _header(device))
    render(results, out, console)
    cached = [s.scheme for s in results.schemes if s.cached]
    console.print(
        f"{results.seconds['total']:.0f} s" + (f" (re-used from the cache: {', '.join(cached)})" if cached else "")
    )
    console.print(f"report: {out / 'report.md'} (results.json, layers.csv, layer_costs.csv and the plots beside it)")


@app.command("reproduce")
@_interruptible("run it again with --resume to continue from the stages that finished (cached in OUT/cache)")
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
    tokens: int = _TOKENS,
    calib_tokens: int = _CALIB_TOKENS,
    seqlen: int = _SEQLEN,
    batch_size: int = _BATCH_SIZE,
    resume: bool = _RESUME,
    mapping: str = _MAPPING,
    objective: str = _OBJECTIVE,
    device: str = _DEVICE,
    stream: bool = _STREAM,
) -> None:
    """The paper's claims beside ours, under the paper and accurate profiles, and their sensitivity.

    Runs panacea evaluate under both profiles on each model, the Fig. 13 sweep, and the sensitivity
    runs; writes OUT/reproduce.json, reproduce.md, tornado charts and each run's report.

    Example: panacea reproduce smollm2-135m minilm-l6 --out repro --resume
    """
    from panacea.flows.reproduce import ReproduceConfig
    from panacea.flows.reproduce import reproduce as run_reproduce
    from panacea.report.reproduction import console_table

    try:
        config = ReproduceConfig(
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
    except ValidationError as err:
        _fail(_validation_line(err))
    console = Console()
    job = functools.partial(run_reproduce, config, out, resume=resume)
    repro = _run_with_progress(console, lambda progress: job(progress=progress), _header(device))
    for table in console_table(repro):
        console.print(table)
    console.print(f"{repro.seconds['total']:.0f} s; report: {out / 'reproduce.md'} (reproduce.json beside it)")


@app.command("report")
@_interruptible("run it again")
def report(
    directory: Path = typer.Argument(..., help="An output directory of panacea evaluate or panacea reproduce."),
) -> None:
    """Re-render tables, CSV, plots and the report from DIR/results.json (panacea evaluate) or
    DIR/reproduce.json (panacea reproduce), without recomputing.

    Example: panacea report panacea-results
    """
    from panacea.flows.reproduce import Reproduction
    from panacea.report import render
    from panacea.report.reproduction import console_table
    from panacea.report.reproduction import render as render_reproduction
    from panacea.results import Results

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
        _fail(str(err))
    console.print(f"report: {directory / 'report.md'}")


def _check_mapping(mapping: str, objective: str) -> None:
    from panacea.hw.mapping import check_choice

    try:
        check_choice(mapping, objective)
    except ValueError as err:
        _fail(f"--{err!s}")


def _shape(text: str, what: str) -> tuple[int, int, int]:
    """``"NxKxM"`` -> (n, k, m)."""
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        _fail(f"{what} must look like NxKxM with positive integers (tokens x in x out), got {text!r}")
    n, k, m = (int(p) for p in parts)
    return n, k, m


def _floats(text: str, what: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        _fail(f"{what} must be comma-separated numbers, got {text!r}")
    if not values or not all(0.0 <= v <= 1.0 for v in values):
        _fail(f"{what} must be comma-separated numbers in [0, 1], got {text!r}")
    return values


_JOBS = typer.Option(
    1, min=1, help="Workers: processes, the CPUs of a local Ray instance, or tasks in flight on a Ray cluster."
)
_EXECUTOR = typer.Option("local", help="local (a process pool) or ray.")
_ADDRESS = typer.Option(None, help="Ray: the address of an existing cluster (default: start one here).")


@app.command("sweep")
@_interruptible("run it again")
def sweep(
    out: Path = typer.Option(Path("sweep"), help="Directory for sweep.csv and sweep.png."),
    levels: str = typer.Option(
        "0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.95", help="Top-slice vector sparsities of weights and activations."
    ),
    sizes: str = typer.Option("small=128x256x256,large=1024x768x768", help="Comma-separated name=NxKxM operand sizes."),
    seed: int = typer.Option(0, min=0, help="Seed of the random masks."),
    mapping: str = _MAPPING,
    objective: str = typer.Option("latency", help="What the mapping search minimises (Fig. 13 plots throughput)."),
    jobs: int = _JOBS,
    executor: str = _EXECUTOR,
    address: str | None = _ADDRESS,
) -> None:
    """The paper's Fig. 13: throughput of every design against weight and activation sparsity.

    Example: panacea sweep --out sweep --levels 0,0.5,0.9,0.95
    """
    from panacea.flows.sweep import plot, sparsity_sweep, summary, write_csv

    shapes = {}
    for item in (s.strip() for s in sizes.split(",") if s.strip()):
        name, _, shape = item.partition("=")
        if not shape:
            _fail(f"sizes must be name=NxKxM items, got {item!r}")
        shapes[name.strip()] = _shape(shape, f"size {name!r}")
    grid = _floats(levels, "levels")
    if not shapes:
        _fail("sizes must name at least one name=NxKxM size")
    _check_mapping(mapping, objective)
    try:
        runner = make_executor(executor, jobs, address)
    except ValueError as err:
        _fail(str(err))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        _fail(f"cannot create the output directory {str(out)!r}: {err.strerror}")
    console = Console()
    with _StageProgress(console) as progress:
        rows = sparsity_sweep(
            shapes,
            grid,
            seed=seed,
            progress=lambda d, t: progress("sweep", d, t),
            mapping=mapping,
            objective=objective,
            executor=runner,
        )
    try:
        write_csv(rows, out / "sweep.csv")
        plot(rows, out / "sweep.png")
    except OSError as err:
        _fail(f"cannot write to {str(out)!r}: {err.strerror}")
    table = Table(title="Fig. 13 headline figures (weights = activations sparsity, over all sizes)")
    table.add_column("Panacea")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for config in ("4D+8S", "8D+4S"):
        for key, value in summary(rows, config).items():
            table.add_row(config, key, f"{value:.2f}x")
    console.print(table)
    console.print(f"wrote {out / 'sweep.csv'} ({len(rows)} rows) and {out / 'sweep.png'}")


@app.command("dse")
@_interruptible("run it again: the points that finished are stored under OUT/points")
def dse(
    model: str = typer.Argument("smollm2-135m", help="Built-in name, hub id or directory (its workloads)."),
    space: Path = typer.Option(..., help="Design space TOML (base, vary, constraints, objectives)."),
    out: Path = typer.Option(Path("dse-results"), help="Output directory (points, front, plot, specs, cache)."),
    profile: str = typer.Option("accurate", help="Assumptions: accurate, paper, or a profile TOML file."),
    jobs: int = _JOBS,
    executor: str = _EXECUTOR,
    address: str | None = _ADDRESS,
    trials: int | None = typer.Option(
        None, min=1, help="NSGA-II trials (Optuna) instead of every point; needed above 4096 points."
    ),
    tokens: int = _TOKENS,
    calib_tokens: int = _CALIB_TOKENS,
    seqlen: int = _SEQLEN,
    batch_size: int = _BATCH_SIZE,
) -> None:
    """Design-space exploration: every design of SPACE on MODEL's workloads, and its Pareto front.

    Example: panacea dse smollm2-135m --space examples/dse-fig13.toml --out dse-results --jobs 2
    """
    from panacea.flows.dse import MAX_EXHAUSTIVE, explore, load_space
    from panacea.flows.evaluate import EvaluateConfig

    try:
        runner = make_executor(executor, jobs, address)
        the_space = load_space(space)
        config = EvaluateConfig(
            model=model, profile=profile, tokens=tokens, calib_tokens=calib_tokens, seqlen=seqlen, batch_size=batch_size
        )
    except ValidationError as err:
        _fail(_validation_line(err))
    except ValueError as err:
        _fail(str(err))
    if trials is None and the_space.size > MAX_EXHAUSTIVE:
        _fail(f"space: {the_space.size} points is more than {MAX_EXHAUSTIVE} to cost one by one: give --trials")
    console = Console()
    rows = _run_with_progress(
        console, lambda progress: explore(the_space, config, out, executor=runner, trials=trials, progress=progress)
    )
    front = [r for r in rows if r.get("pareto")]
    table = Table(title=f"{model}: the Pareto front of {space.name} ({len(rows)} points)")
    for column in (*the_space.dimensions, *the_space.objectives):
        table.add_column(column)
    for r in front:
        table.add_row(*(str(r[k]) for k in the_space.dimensions), *(f"{r[o]:.4g}" for o in the_space.objectives))
    console.print(table)
    console.print(f"wrote {out / 'points.csv'}, {out / 'front.csv'}, {out / 'pareto.png'} and {out / 'front'}/")


@app.command("aq-peak")
@_interruptible("run it again")
def aq_peak(
    spec: str = typer.Option("aq-bitserial", help="A bitserial-kind design: shipped name or TOML spec."),
    sparsity: float = typer.Option(0.3, min=0.0, max=1.0, help="Fraction of zero codes in each operand."),
    energy: Path | None = typer.Option(None, help="Energy table TOML (default: the shipped 28 nm one)."),
) -> None:
    """Peak throughput and efficiency of the JSSC 2024 arbitrary-quantization accelerator over
    1-8-bit codes, beside the paper.

    Example: panacea aq-peak --sparsity 0.3
    """
    import panacea.hw as hw
    from panacea.hw.bitserial import PUBLISHED, peak

    try:
        model = hw.load(spec, energy)
    except (ValueError, OSError) as err:
        _fail(str(err))
    if model.spec.kind != "bitserial":
        _fail(f"spec {spec!r} is a {model.spec.kind} design; aq-peak takes a bitserial one (aq-bitserial)")
    table = Table(title=f"{model.name}: peak at {sparsity:.0%} zero codes, uniform codes on both operands")
    for col in ("bits", "steps", "TOPS", "paper", "TOPS/W", "paper", "mW"):
        table.add_column(col, justify="right")
    for bits in range(1, 9):
        p = peak(model, bits, sparsity)
        paper = PUBLISHED.get(bits)
        tops = "" if paper is None else f"{paper[0]} ({p.tops / paper[0] - 1:+.0%})"
        eff = "" if paper is None else f"{paper[1]} ({p.tops_per_watt / paper[1] - 1:+.0%})"
        table.add_row(
            str(bits), str(p.steps), f"{p.tops:.2f}", tops, f"{p.tops_per_watt:.1f}", eff, f"{p.power_mw:.0f}"
        )
    Console().print(table)


@app.command("cost")
@_interruptible("run it again")
def cost(
    specs: list[str] = typer.Option(
        ["panacea", "sibia", "sa-ws", "sa-os", "simd"], "--spec", help="Shipped design or TOML spec (repeatable)."
    ),
    shape: str = typer.Option("1024x768x768", help="GEMM NxKxM (tokens x in x out)."),
    act_sparsity: float = typer.Option(0.9, min=0.0, max=1.0, help="Activation top-slice vector sparsity."),
    weight_sparsity: float = typer.Option(0.5, min=0.0, max=1.0, help="Weight top-slice vector sparsity."),
    energy: Path | None = typer.Option(None, help="Energy table TOML (default: the shipped 28 nm one)."),
    seed: int = typer.Option(0, min=0, help="Seed of the random masks."),
    mapping: str = _MAPPING,
    objective: str = _OBJECTIVE,
) -> None:
    """Cost one synthetic GEMM on each design: cycles, utilization, traffic, energy per component,
    and the mapping each design ran.

    Example: panacea cost --spec panacea --spec my_panacea.toml --shape 1024x768x3072
    """
    import panacea.hw as hw
    from panacea.workload.build import synthetic_workload

    n, k, m = _shape(shape, "shape")
    _check_mapping(mapping, objective)
    try:
        models = [hw.load(s, energy, mapping=mapping, objective=objective) for s in specs]
    except (ValueError, OSError) as err:
        _fail(str(err))
    opts = dict(act_sparsity=act_sparsity, weight_sparsity=weight_sparsity, seed=seed)
    workloads = {scheme: synthetic_workload(n, k, m, scheme=scheme, **opts) for scheme in ("asym", "sym")}
    costs = []
    for model in models:
        if model.spec.kind == "bitserial":
            _fail(f"{model.name} runs arbitrarily quantized workloads: see `panacea aq-peak` and `panacea evaluate`")
        try:
            costs.append(model.run(workloads["sym" if model.spec.kind == "sibia" else "asym"]))
        except ValueError as err:
            _fail(str(err))
    console = Console()
    table = Table(
        title=f"GEMM N={n} K={k} M={m}, vector sparsity: activations {act_sparsity}, weights {weight_sparsity}"
    )
    table.add_column("", no_wrap=True)
    for c in costs:
        table.add_column(c.design, justify="right")
    rows = [
        ("cycles", lambda c: f"{c.cycles:,}"),
        ("  compute only", lambda c: f"{c.cycles_compute:,}"),
        ("  memory only", lambda c: f"{c.cycles_memory:,}"),
        ("effective TOPS", lambda c: f"{c.tops:.3f}"),
        ("TOPS/W", lambda c: f"{c.tops_per_watt:.2f}"),
        ("energy (uJ)", lambda c: f"{c.energy_j * 1e6:.2f}"),
        *((f"  {comp}", lambda c, comp=comp: f"{c.energy_pj[comp] * 1e-6:.2f}") for comp in hw.COMPONENTS),
        ("DRAM read (KB)", lambda c: f"{c.dram_bits_read / 8192:,.0f}"),
        ("DRAM written (KB)", lambda c: f"{c.dram_bits_written / 8192:,.0f}"),
        ("utilization", lambda c: " ".join(f"{k} {v:.0%}" for k, v in c.utilization.items())),
        ("area (mm2)", lambda c: f"{c.total_area_mm2:.3f}"),
        *((f"  {comp}", lambda c, comp=comp: f"{c.area_mm2[comp]:.3f}") for comp in AREA_COMPONENTS),
        ("TOPS/mm2", lambda c: f"{c.tops_per_mm2:.2f}"),
    ]
    for label, fmt in rows:
        table.add_row(label, *(fmt(c) for c in costs))
    console.print(table)
    for c in costs:
        console.print(f"{c.design} mapping ({mapping}, {objective}): {c.mapping.describe()}")
