"""The design space of ``panacea dse`` as validated data: a base design, the spec fields to vary,
named variants, constraints and objectives (see :mod:`panacea.flows.dse`), and the points it holds.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

import panacea.hw as hw
from panacea.core.checks import first_error, input_error, parse_toml, validated
from panacea.core.files import read_text
from panacea.hw.spec import BUILTIN_SPECS, ArchSpecModel, spec_with

Objective = Literal["tops", "tops_per_watt", "tops_per_mm2", "energy", "area"]
MAXIMISE: dict[str, bool] = {"tops": True, "tops_per_watt": True, "tops_per_mm2": True, "energy": False, "area": False}
Value = bool | int | float
MAX_EXHAUSTIVE = 4096  # points costed one by one without a search (panacea dse --trials)


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Constraints(_Data):
    equal_multipliers: bool = False  # as many 4b x 4b multipliers as the base (the paper's equal resources)
    max_area_mm2: float | None = Field(default=None, gt=0)
    max_sram_kb: float | None = Field(default=None, gt=0)


class Range(_Data):
    """Values ``start, start + step, ...`` up to ``stop`` (included when it is on the grid)."""

    start: int | float
    stop: int | float
    step: int | float = Field(default=1, gt=0)

    def values(self) -> list[Value]:
        if self.stop < self.start:
            raise ValueError(f"stop ({self.stop}) is below start ({self.start})")
        count = int((self.stop - self.start) / self.step + 1e-9) + 1
        if count > MAX_EXHAUSTIVE:
            raise ValueError(f"{count} values; at most {MAX_EXHAUSTIVE}")
        return [self.start + i * self.step for i in range(count)]


def _check_field(key: str) -> None:
    if key.count(".") > 1 or not all(key.split(".")):
        raise ValueError(f"{key!r}: a spec field is 'core.<field>', 'memory.<field>' or a top-level field")


class Space(_Data):
    """``vary``: each spec field's values (a list, or a ``{start, stop, step}`` range);
    ``variants``: named dimensions whose values are alternatives, each a table of fields changed
    together (DTP off is one CS and S-ACC per PEA and half the PSUM, not only ``core.dtp``). The
    points are every combination of both."""

    base: str = Field(min_length=1)
    vary: dict[str, list[Value]] = {}
    variants: dict[str, dict[str, dict[str, Value]]] = {}
    constraints: Constraints = Constraints()
    objectives: tuple[Objective, ...] = Field(default=("tops", "tops_per_watt"), min_length=1)
    # Designs drawn beside the space on the plot (and in marks.csv), each on its own kind's scheme.
    marks: tuple[str, ...] = BUILTIN_SPECS

    @field_validator("vary", mode="before")
    @classmethod
    def _ranges(cls, vary):
        if not isinstance(vary, dict):
            return vary
        out = {}
        for key, values in vary.items():
            try:
                out[key] = Range.model_validate(values).values() if isinstance(values, dict) else values
            except ValidationError as err:
                where, message = first_error(err)
                raise input_error(None, message, field=f"{key}.{where}") from None
            except ValueError as err:
                raise input_error(None, str(err), field=key) from None
        return out

    @field_validator("vary")
    @classmethod
    def _fields(cls, vary: dict[str, list[Value]]) -> dict[str, list[Value]]:
        for key, values in vary.items():
            _check_field(key)
            if not values:
                raise ValueError(f"{key!r}: needs at least one value")
            if len(set(map(repr, values))) != len(values):
                raise ValueError(f"{key!r}: values must be distinct")
        return vary

    @field_validator("variants")
    @classmethod
    def _alternatives(cls, variants: dict[str, dict[str, dict[str, Value]]]) -> dict:
        for name, alternatives in variants.items():
            if not alternatives:
                raise ValueError(f"{name!r}: needs at least one alternative")
            for changes in alternatives.values():
                for key in changes:
                    _check_field(key)
        return variants

    @field_validator("objectives")
    @classmethod
    def _distinct(cls, objectives: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(objectives)) != len(objectives):
            raise ValueError("objectives must be distinct")
        return objectives

    @model_validator(mode="after")
    def _dimensions_exist(self) -> Space:
        if not self.vary and not self.variants:
            raise ValueError("vary or variants must name at least one dimension")
        clash = set(self.vary) & (
            {k for alts in self.variants.values() for c in alts.values() for k in c} | set(self.variants)
        )
        if clash:
            raise ValueError(f"{sorted(clash)[0]!r} is both varied and changed by a variant")
        return self

    def base_spec(self) -> ArchSpecModel:
        return hw.load_spec(self.base)

    @property
    def dimensions(self) -> dict[str, list[Value | str]]:
        """Every dimension's values: the varied fields', then each variant's alternative names."""
        return {**self.vary, **{name: list(alternatives) for name, alternatives in self.variants.items()}}

    def spec_changes(self, choice: dict[str, Value | str]) -> dict[str, Value]:
        """The spec fields a point (one value per dimension) changes."""
        out = {k: choice[k] for k in self.vary}
        for name, alternatives in self.variants.items():
            out |= alternatives[choice[name]]
        return out

    @property
    def size(self) -> int:
        n = 1
        for values in self.dimensions.values():
            n *= len(values)
        return n


def load_space(path: str | Path) -> Space:
    """A space TOML file, validated; one error naming the file and the first bad field, including
    a varied field the base design does not have."""
    where = str(path)
    space = validated(Space, parse_toml(read_text(path, "space file"), where), where)
    base = space.base_spec().model_dump()
    fields = [(f"vary.{k}", k) for k in space.vary]
    fields += [(f"variants.{n}.{a}.{k}", k) for n, alts in space.variants.items() for a, c in alts.items() for k in c]
    for i, mark in enumerate(space.marks):
        try:
            hw.load_spec(mark)
        except ValueError as err:
            raise input_error(where, str(err), field=f"marks.{i}") from None
    for where_in_file, key in fields:
        section, _, name = key.rpartition(".")
        known = base[section] if section else base
        if not isinstance(known, dict) or name not in known:
            raise input_error(where, f"not a field of {space.base}'s spec", field=where_in_file)
    return space


@dataclass(frozen=True)
class Point:
    """One combination of the varied values; ``spec`` is None when ``reason`` says why it is out."""

    index: int
    changes: dict[str, Value]
    spec: ArchSpecModel | None
    reason: str = ""


def points(space: Space) -> Iterator[Point]:
    """Every combination of the space's dimensions, as a validated spec or the reason it is out."""
    dims, base = space.dimensions, space.base_spec()
    for index, values in enumerate(itertools.product(*dims.values())):
        yield point(space, index, dict(zip(dims, values, strict=True)), base)


def point(space: Space, index: int, choice: dict[str, Value | str], base: ArchSpecModel | None = None) -> Point:
    """The point of ``choice`` (one value per dimension; ``index``: its place among every
    combination); ``base``: the space's base spec when the caller has it (read once per space)."""
    base = space.base_spec() if base is None else base
    try:
        spec = spec_with(base, space.spec_changes(choice), name=f"{base.name} #{index}")
    except ValueError as err:
        return Point(index, choice, None, str(err))
    reason = _broken_constraint(spec, base, space.constraints)
    return Point(index, choice, None if reason else spec, reason)


def point_index(space: Space, choice: dict[str, Value | str]) -> int:
    """The place of ``choice`` among every combination (row-major over the dimensions)."""
    index = 0
    for key, values in space.dimensions.items():
        index = index * len(values) + next(i for i, v in enumerate(values) if repr(v) == repr(choice[key]))
    return index


def _broken_constraint(spec: ArchSpecModel, base: ArchSpecModel, c: Constraints) -> str:
    if c.equal_multipliers and spec.multipliers_4b != base.multipliers_4b:
        return f"{spec.multipliers_4b} 4b x 4b multipliers, not the base's {base.multipliers_4b}"
    if c.max_sram_kb is not None and spec.memory.sram_kb > c.max_sram_kb:
        return f"SRAM {spec.memory.sram_kb:g} KB over the budget of {c.max_sram_kb:g} KB"
    if c.max_area_mm2 is not None:
        area = sum(hw.model_for(spec).area_mm2().values())
        if area > c.max_area_mm2:
            return f"area {area:.3f} mm2 over the budget of {c.max_area_mm2:g} mm2"
    return ""
