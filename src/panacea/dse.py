"""Design-space exploration (issue 14, work in progress): a space of spec variants as validated
data, the points it holds under its constraints, their cost on a model's workloads, and the
Pareto front over the space's objectives.

A space (TOML, :class:`Space`) names a ``base`` design (shipped name or spec file), the spec fields
to ``vary`` (``"core.dwo_per_pea"``, ``"memory.wmem_kb"``, ``"clock_mhz"``: each with its values;
the points are every combination), ``constraints`` (equal 4b x 4b multipliers to the base, an area
or SRAM budget) and ``objectives`` (``tops``, ``tops_per_watt``, ``tops_per_mm2`` to maximise;
``energy``, ``area`` to minimise). Each point is a spec validated like a spec file; one that is
not valid or breaks a constraint is kept with the reason, not costed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

import panacea.hw as hw
from panacea._checks import parse_toml, validated
from panacea._io import read_text
from panacea.hw.spec import ArchSpecModel, spec_with

Objective = Literal["tops", "tops_per_watt", "tops_per_mm2", "energy", "area"]
MAXIMISE: dict[str, bool] = {"tops": True, "tops_per_watt": True, "tops_per_mm2": True, "energy": False, "area": False}
Value = bool | int | float


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Constraints(_Data):
    equal_multipliers: bool = False  # as many 4b x 4b multipliers as the base (the paper's equal resources)
    max_area_mm2: float | None = Field(default=None, gt=0)
    max_sram_kb: float | None = Field(default=None, gt=0)


class Space(_Data):
    base: str = Field(min_length=1)
    vary: dict[str, list[Value]] = Field(min_length=1)
    constraints: Constraints = Constraints()
    objectives: tuple[Objective, ...] = Field(default=("tops", "tops_per_watt"), min_length=1)

    @field_validator("vary")
    @classmethod
    def _fields(cls, vary: dict[str, list[Value]]) -> dict[str, list[Value]]:
        for key, values in vary.items():
            if key.count(".") > 1 or not all(key.split(".")):
                raise ValueError(f"{key!r}: a spec field is 'core.<field>', 'memory.<field>' or a top-level field")
            if not values:
                raise ValueError(f"{key!r}: needs at least one value")
            if len(set(map(repr, values))) != len(values):
                raise ValueError(f"{key!r}: values must be distinct")
        return vary

    @field_validator("objectives")
    @classmethod
    def _distinct(cls, objectives: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(objectives)) != len(objectives):
            raise ValueError("objectives must be distinct")
        return objectives

    def base_spec(self) -> ArchSpecModel:
        return hw.load_spec(self.base)

    @property
    def size(self) -> int:
        n = 1
        for values in self.vary.values():
            n *= len(values)
        return n


def load_space(path: str | Path) -> Space:
    """A space TOML file, validated; one error naming the file and the first bad field, including
    a varied field the base design does not have."""
    where = str(path)
    space = validated(Space, parse_toml(read_text(path, "space file"), where), where)
    base = space.base_spec().model_dump()
    for key in space.vary:
        section, _, name = key.rpartition(".")
        fields = base[section] if section else base
        if not isinstance(fields, dict) or name not in fields:
            raise ValueError(f"{where}: vary.{key}: not a field of {space.base}'s spec")
    return space


@dataclass(frozen=True)
class Point:
    """One combination of the varied values; ``spec`` is None when ``reason`` says why it is out."""

    index: int
    changes: dict[str, Value]
    spec: ArchSpecModel | None
    reason: str = ""


def points(space: Space) -> Iterator[Point]:
    """Every combination of ``space.vary``, as a validated spec or the reason it is out."""
    base = space.base_spec()
    keys = list(space.vary)
    for index, values in enumerate(itertools.product(*(space.vary[k] for k in keys))):
        changes = dict(zip(keys, values, strict=True))
        try:
            spec = spec_with(base, changes, name=f"{base.name} #{index}")
        except ValueError as err:
            yield Point(index, changes, None, str(err))
            continue
        reason = _broken_constraint(spec, base, space.constraints)
        yield Point(index, changes, None if reason else spec, reason)


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


def metrics(cost: hw.Cost) -> dict[str, float]:
    """Every objective's value of a design's cost on a model's workloads."""
    return {
        "tops": cost.tops,
        "tops_per_watt": cost.tops_per_watt,
        "tops_per_mm2": cost.tops_per_mm2,
        "energy": cost.energy_j,
        "area": cost.total_area_mm2,
    }


def evaluate(spec: ArchSpecModel, workloads: Sequence) -> dict[str, float]:
    """``spec`` on ``workloads``, each GEMM on its searched mapping."""
    return metrics(hw.model_for(spec).run(list(workloads)))


def pareto_front(rows: Sequence[dict[str, float]], objectives: Sequence[str]) -> list[int]:
    """Indices of the rows no other row dominates (at least as good in every objective and better
    in one), in their order."""
    signed = [[r[o] if MAXIMISE[o] else -r[o] for o in objectives] for r in rows]

    def dominates(a: list[float], b: list[float]) -> bool:
        return all(x >= y for x, y in zip(a, b, strict=True)) and any(x > y for x, y in zip(a, b, strict=True))

    return [i for i, a in enumerate(signed) if not any(dominates(b, a) for b in signed)]
