"""The 28 nm energy table: picojoules per action, loaded from data (``energy_28nm.toml``).

Every constant lives in the TOML file with its source and scaling rule; this module only reads and
validates it and interpolates SRAM energy for a memory's size (log-log between CACTI rows).
Changing the table is editing data: pass another file to :func:`load_energy`.
"""

from __future__ import annotations

import math
import tomllib
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from panacea._checks import invalid_file
from panacea._io import read_text


class _Strict(BaseModel):
    # strict: a TOML value has its type (no "0.5" for 0.5); finite numbers only
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class LogicEnergy(_Strict):
    mult_4x4: float = Field(gt=0)
    mult_8x8: float = Field(gt=0)
    add_8: float = Field(gt=0)
    add_16: float = Field(gt=0)
    add_32: float = Field(gt=0)
    accumulate: float = Field(gt=0)
    compensator_mult: float = Field(gt=0)
    index_decode: float = Field(gt=0)
    ppu_output: float = Field(gt=0)


class RegisterEnergy(_Strict):
    pj_per_bit: float = Field(gt=0)


Positive = Annotated[float, Field(gt=0)]


class SramTable(_Strict):
    size_kb: list[Positive]
    read_pj_bit: list[Positive]
    write_pj_bit: list[Positive]
    leakage_mw: list[Positive]

    @model_validator(mode="after")
    def _consistent(self) -> SramTable:
        n = len(self.size_kb)
        if n < 2 or any(len(col) != n for col in (self.read_pj_bit, self.write_pj_bit, self.leakage_mw)):
            raise ValueError("size_kb, read_pj_bit, write_pj_bit and leakage_mw need the same length (>= 2)")
        if any(b <= a for a, b in zip(self.size_kb, self.size_kb[1:], strict=False)):
            raise ValueError("size_kb must be increasing")
        return self

    def _interp(self, column: list[float], size_kb: float) -> float:
        return _log_log(tuple(self.size_kb), tuple(column), size_kb)

    def read(self, size_kb: float) -> float:
        return self._interp(self.read_pj_bit, size_kb)

    def write(self, size_kb: float) -> float:
        return self._interp(self.write_pj_bit, size_kb)

    def leakage(self, size_kb: float) -> float:
        return self._interp(self.leakage_mw, size_kb)


@lru_cache(maxsize=1024)  # a cost model prices the same few memories for every candidate mapping
def _log_log(sizes: tuple[float, ...], column: tuple[float, ...], size_kb: float) -> float:
    """Log-log interpolation (extrapolation at the ends) of ``column`` at ``size_kb``."""
    x = math.log(max(size_kb, 1e-6))
    xs = [math.log(s) for s in sizes]
    i = min(max(sum(1 for v in xs if v <= x) - 1, 0), len(xs) - 2)
    y0, y1 = math.log(column[i]), math.log(column[i + 1])
    return math.exp(y0 + (y1 - y0) * (x - xs[i]) / (xs[i + 1] - xs[i]))


class DramEnergy(_Strict):
    part: str
    pj_per_bit: float = Field(gt=0)


class EnergyTable(_Strict):
    """Energy per action (pJ) and SRAM leakage (mW)."""

    logic: LogicEnergy
    registers: RegisterEnergy
    sram: SramTable
    dram: DramEnergy


def load_energy(path: str | Path | None = None) -> EnergyTable:
    """The default 28 nm table, or one read from ``path``; errors name the bad key."""
    if path is None:
        return _default()
    if not Path(path).is_file():
        raise ValueError(f"energy table {str(path)!r} is not a file")
    return _parse(read_text(path, "energy table"), str(path))


@cache
def _default() -> EnergyTable:
    text = resources.files("panacea.hw").joinpath("energy_28nm.toml").read_text()
    return _parse(text, "energy_28nm.toml")


def _parse(text: str, where: str) -> EnergyTable:
    try:
        return EnergyTable.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{where}: not valid TOML: {err}") from err
    except ValidationError as err:
        raise invalid_file(where, err) from err
