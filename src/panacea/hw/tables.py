"""What the 28 nm data tables (energy, area) share: strict TOML-backed models, SRAM columns by
capacity interpolated log-log between CACTI rows, and loading the packaged table or a user's file
with one error naming the bad key."""

from __future__ import annotations

import itertools
import math
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from panacea.core.checks import input_error, invalid_file, parse_toml, shown
from panacea.core.files import read_text

Positive = Annotated[float, Field(gt=0)]
T = TypeVar("T", bound=BaseModel)


class Strict(BaseModel):
    # strict: a TOML value has its type (no "0.5" for 0.5); finite numbers only
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def check_columns(size_kb: list[float], columns: dict[str, list[float]]) -> None:
    """SRAM rows: every column as long as ``size_kb`` (two rows at least), sizes increasing."""
    names = ["size_kb", *columns]
    if len(size_kb) < 2 or any(len(col) != len(size_kb) for col in columns.values()):
        raise ValueError(f"{', '.join(names[:-1])} and {names[-1]} need the same length (>= 2)")
    if any(b <= a for a, b in itertools.pairwise(size_kb)):
        raise ValueError("size_kb must be increasing")


@lru_cache(maxsize=1024)  # a cost model prices the same few memories for every candidate mapping
def log_log(sizes: tuple[float, ...], column: tuple[float, ...], size_kb: float) -> float:
    """Log-log interpolation (extrapolation at the ends) of ``column`` at ``size_kb``."""
    x = math.log(max(size_kb, 1e-6))
    xs = [math.log(s) for s in sizes]
    i = min(max(sum(1 for v in xs if v <= x) - 1, 0), len(xs) - 2)
    y0, y1 = math.log(column[i]), math.log(column[i + 1])
    return math.exp(y0 + (y1 - y0) * (x - xs[i]) / (xs[i + 1] - xs[i]))


def load_table(model: type[T], packaged: str, path: str | Path | None, what: str) -> T:
    """The packaged table ``packaged`` (``panacea/hw/<packaged>``, read once), or ``model`` read
    from ``path``; errors name the file and the bad key."""
    if path is None:
        return _packaged(model, packaged)
    if not Path(path).is_file():
        raise input_error(None, f"{what} {shown(str(path))} is not a file")
    return _parse(model, read_text(path, what), str(path))


@cache
def _packaged(model: type[T], name: str) -> T:
    return _parse(model, resources.files("panacea.hw").joinpath(name).read_text(), name)


def _parse(model: type[T], text: str, where: str) -> T:
    try:
        return model.model_validate(parse_toml(text, where))
    except ValidationError as err:
        raise invalid_file(where, err) from err
