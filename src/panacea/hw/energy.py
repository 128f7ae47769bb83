"""The 28 nm energy table: picojoules per action, loaded from data (``energy_28nm.toml``).

Every constant lives in the TOML file with its source and scaling rule; this module only reads and
validates it and interpolates SRAM energy for a memory's size (log-log between CACTI rows).
Changing the table is editing data: pass another file to :func:`load_energy`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from panacea.hw.tables import Positive, Strict, check_columns, load_table, log_log


class LogicEnergy(Strict):
    mult_4x4: float = Field(gt=0)
    mult_8x8: float = Field(gt=0)
    add_8: float = Field(gt=0)
    add_16: float = Field(gt=0)
    add_32: float = Field(gt=0)
    accumulate: float = Field(gt=0)
    compensator_mult: float = Field(gt=0)
    index_decode: float = Field(gt=0)
    ppu_output: float = Field(gt=0)


class RegisterEnergy(Strict):
    pj_per_bit: float = Field(gt=0)


class SramTable(Strict):
    size_kb: list[Positive]
    read_pj_bit: list[Positive]
    write_pj_bit: list[Positive]
    leakage_mw: list[Positive]

    @model_validator(mode="after")
    def _consistent(self) -> SramTable:
        columns = {"read_pj_bit": self.read_pj_bit, "write_pj_bit": self.write_pj_bit, "leakage_mw": self.leakage_mw}
        check_columns(self.size_kb, columns)
        return self

    def _interp(self, column: list[float], size_kb: float) -> float:
        return log_log(tuple(self.size_kb), tuple(column), size_kb)

    def read(self, size_kb: float) -> float:
        return self._interp(self.read_pj_bit, size_kb)

    def write(self, size_kb: float) -> float:
        return self._interp(self.write_pj_bit, size_kb)

    def leakage(self, size_kb: float) -> float:
        return self._interp(self.leakage_mw, size_kb)


class DramEnergy(Strict):
    part: str
    pj_per_bit: float = Field(gt=0)


class EnergyTable(Strict):
    """Energy per action (pJ) and SRAM leakage (mW)."""

    logic: LogicEnergy
    registers: RegisterEnergy
    sram: SramTable
    dram: DramEnergy


def load_energy(path: str | Path | None = None) -> EnergyTable:
    """The default 28 nm table, or one read from ``path``; errors name the bad key."""
    return load_table(EnergyTable, "energy_28nm.toml", path, "energy table")
