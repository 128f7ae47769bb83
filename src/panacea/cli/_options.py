"""The options several ``panacea`` commands share, and the parsers of option text (a bad value is
one line, exit 2)."""

from __future__ import annotations

import tomllib

import typer
from pydantic import ValidationError

from panacea.cli._common import fail
from panacea.core.checks import first_error

MODEL = typer.Argument(
    "smollm2-135m", help="Built-in name (smollm2-135m, minilm-l6, efficientnet-lite0), hub id or directory."
)
PROFILE = typer.Option("accurate", help="Assumptions: accurate, paper, or a profile TOML file.")
PAPER_OVERRIDES = typer.Option(
    True, help="The paper's mixed precision (12-bit Llama down_proj inputs, 10-bit GPT-2 MLP weights)."
)
ENERGY = typer.Option(None, help="Energy table TOML (default: the shipped 28 nm one).")

# Where a model runs and how it is held (ptq, evaluate, reproduce).
DEVICE = typer.Option(
    "cpu", help="Where the model, its observers, OPTQ and integer GEMMs run: cpu, cuda or auto (cuda if present)."
)
STREAM = typer.Option(
    True,
    help="Load a local or hub model block-streamed: its blocks stay in the checkpoint's dtype (bf16/fp16), "
    "each widened to float32 only while it runs (same results, a fraction of the memory).",
)

# The options `panacea evaluate`, `panacea reproduce` and `panacea dse` share.
TOKENS = typer.Option(8192, min=2, help="Evaluation tokens (causal LMs).")
CALIB_TOKENS = typer.Option(4096, min=2, help="Calibration tokens (causal LMs), after the evaluation ones.")
SEQLEN = typer.Option(512, min=2, help="Tokens per window (causal LMs).")
BATCH_SIZE = typer.Option(4, min=1, help="Windows per batch (causal LMs); a batch is one costed call.")
RESUME = typer.Option(False, help="Re-use calibration and captured workloads cached under OUT/cache.")
MAPPING = typer.Option(
    "search", help="How each design maps each GEMM: search (the best mapping per layer) or fixed (the spec's tiles)."
)
OBJECTIVE = typer.Option("energy", help="What the mapping search minimises: energy, latency or edp.")

# Where the points of a sweep or a design-space exploration run.
JOBS = typer.Option(
    1, min=1, help="Workers: processes, the CPUs of a local Ray instance, or tasks in flight on a Ray cluster."
)
EXECUTOR = typer.Option("local", help="local (a process pool) or ray.")
ADDRESS = typer.Option(None, help="Ray: the address of an existing cluster (default: start one here).")


def names(text: str) -> tuple[str, ...]:
    """A comma-separated list, its items stripped, empty ones dropped."""
    return tuple(s.strip() for s in text.split(",") if s.strip())


def assignments(items: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` pairs; a value is read as TOML (``0.75``, ``true``, ``"x"``), else as a string."""
    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"--set takes KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value.strip()
    return out


def validation_line(err: ValidationError) -> str:
    """A configuration's first error as ``field: message``."""
    where, message = first_error(err)
    return f"{where}: {message}"


def config(cls, **fields):
    """``cls(**fields)``, a validated configuration, or its first error in one line (exit 2)."""
    try:
        return cls(**fields)
    except ValidationError as err:
        fail(validation_line(err))


def check_mapping(mapping: str, objective: str) -> None:
    from panacea.hw.mapping import check_choice

    try:
        check_choice(mapping, objective)
    except ValueError as err:
        fail(f"--{err!s}")


def shape(text: str, what: str) -> tuple[int, int, int]:
    """``"NxKxM"`` -> (n, k, m)."""
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        fail(f"{what} must look like NxKxM with positive integers (tokens x in x out), got {text!r}")
    n, k, m = (int(p) for p in parts)
    return n, k, m


def fractions(text: str, what: str) -> list[float]:
    """Comma-separated numbers in [0, 1]."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        fail(f"{what} must be comma-separated numbers, got {text!r}")
    if not values or not all(0.0 <= v <= 1.0 for v in values):
        fail(f"{what} must be comma-separated numbers in [0, 1], got {text!r}")
    return values
