"""The sensitivity of Panacea's comparison to the assumptions the paper leaves open.

Around the ``paper`` profile and the shipped specs, each assumption of ``sensitivity.toml`` is
varied on its own, and Panacea's speed-up and energy-efficiency gain over Sibia and over SIMD are
computed again on each model: Panacea runs the ``dbs`` scheme, Sibia ``sym``, SIMD ``dbs`` (as in
``panacea evaluate``). A value that changes calibration fields runs those two schemes again (through
the shared cache); one that changes only the hardware re-costs the captured workloads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field, field_validator

import panacea.hw as hw
from panacea.core.checks import parse_toml, validated
from panacea.hw.mapping import MappingMode, Objective
from panacea.results.reproduction import METRICS
from panacea.schemes import SCHEME_OF_KIND, check_assumptions
from panacea.workload import Workload
from panacea.workload.build import with_index_bits

DESIGNS = ("panacea", "sibia", "simd")  # what the metrics compare
SCHEMES = {design: SCHEME_OF_KIND[design] for design in DESIGNS}  # each design (here its kind) runs its scheme
SCHEME_NAMES = tuple(dict.fromkeys(SCHEMES.values()))  # what a value that changes calibration runs again
_WORKLOAD_FIELDS: dict[str, Callable[[Workload, int], Workload]] = {"index_bits": with_index_bits}


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Variation(_Data):
    """One value of an assumption (``sensitivity.toml``'s header says what each field changes)."""

    label: str = Field(min_length=1)
    calibration: dict[str, object] = Field(default_factory=dict)
    workloads: dict[str, int] = Field(default_factory=dict)
    core: dict[str, dict[str, object]] = Field(default_factory=dict)
    mapping: MappingMode | None = None  # every design's mapping (unset: the assumption's, else the run's)

    @field_validator("calibration")
    @classmethod
    def _calibration_fields(cls, v: dict) -> dict:
        check_assumptions(v)
        return v

    @field_validator("workloads")
    @classmethod
    def _workload_fields(cls, v: dict) -> dict:
        unknown = sorted(set(v) - set(_WORKLOAD_FIELDS))
        if unknown:
            raise ValueError(f"{unknown[0]!r} cannot be re-derived from captured masks (only {list(_WORKLOAD_FIELDS)})")
        return v

    @field_validator("core")
    @classmethod
    def _core_applies(cls, v: dict) -> dict:
        for design, changes in v.items():
            if design not in DESIGNS:
                raise ValueError(f"{design!r} is none of the compared designs {list(DESIGNS)}")
            hw.with_core(hw.load_spec(design), **changes)  # raises naming the spec key
        return v

    @property
    def reruns(self) -> bool:
        return bool(self.calibration)

    def spec(self, design: str) -> hw.ArchSpecModel:
        base = hw.load_spec(design)
        return hw.with_core(base, **self.core[design]) if design in self.core else base

    def derive(self, workloads: list[Workload]) -> list[Workload]:
        for key, value in self.workloads.items():
            workloads = [_WORKLOAD_FIELDS[key](w, value) for w in workloads]
        return workloads


class Assumption(_Data):
    """``mapping``: the mapping its base and values run (unset: the run's), for an assumption about
    the fixed mapping's tiles."""

    name: str = Field(min_length=1)
    base: str = Field(min_length=1)
    why: str = Field(min_length=1)
    values: tuple[Variation, ...] = Field(min_length=1)
    mapping: MappingMode | None = None

    def mapping_of(self, run: MappingMode) -> MappingMode:
        """The mapping its base runs in a run of ``run``."""
        return self.mapping or run

    def base_label(self, run: MappingMode) -> str:
        """An assumption whose values are all mappings is based on the run's mapping."""
        return self.mapping_of(run) if all(v.mapping for v in self.values) else self.base

    def values_around(self, run: MappingMode) -> tuple[Variation, ...]:
        """Its values in a run of ``run``, less the one that is its base."""
        return tuple(v for v in self.values if v.label != self.base_label(run))


class Assumptions(_Data):
    assumptions: tuple[Assumption, ...] = Field(min_length=1)


def load_assumptions(text: str | None = None, where: str = "sensitivity.toml") -> tuple[Assumption, ...]:
    """The shipped assumptions (or ``text`` of the same form), validated."""
    if text is None:
        text = resources.files("panacea.flows.reproduce").joinpath("sensitivity.toml").read_text()
    return validated(Assumptions, parse_toml(text, where), where).assumptions


@functools.cache
def shipped_assumptions() -> tuple[Assumption, ...]:
    return load_assumptions()


BASE = Variation(label="base")


def comparison(
    captures: dict[str, dict[str, list[Workload]]],
    variation: Variation = BASE,
    *,
    mapping: MappingMode = "search",
    objective: Objective = "energy",
) -> dict[str, float]:
    """:data:`METRICS` of Panacea (``dbs``) against Sibia (``sym``) and SIMD (``dbs``) on the
    captured workloads, with ``variation``'s workload, spec and mapping changes (``mapping``: the
    mapping where the variation sets none)."""
    costs = {}
    mapping = variation.mapping or mapping
    for design in DESIGNS:
        workloads = variation.derive(captures[SCHEMES[design]]["main"])
        costs[design] = hw.model_for(variation.spec(design), mapping=mapping, objective=objective).run(workloads)
    p, s, d = costs["panacea"], costs["sibia"], costs["simd"]
    return {
        METRICS[0]: s.cycles / p.cycles,
        METRICS[1]: p.tops_per_watt / s.tops_per_watt,
        METRICS[2]: d.cycles / p.cycles,
        METRICS[3]: p.tops_per_watt / d.tops_per_watt,
    }
