"""``reproduce.json``: the paper's claims beside ours (one :class:`ClaimRow` per claim and profile)
and the sensitivity of Panacea's numbers to each assumption (:class:`SensitivityRow`), as
``panacea reproduce`` writes them and validates them on load."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from panacea.hw.mapping import MappingMode
from panacea.results.schema import Record, VersionedFile

PROFILES = ("paper", "accurate")
MATCH = 0.25  # a number within +-25% of the paper's "matches"
NOT_STATED = "not stated"  # the paper model of a claim that names none
SCHEMA_VERSION = 1
# What the sensitivity table reports of Panacea against Sibia and SIMD, under each assumption.
METRICS = ("speed-up over Sibia", "EE gain over Sibia", "speed-up over SIMD", "EE gain over SIMD")


class ClaimRow(Record):
    """One claim beside ours: ``ours``, ``ratio`` (ours / paper) and ``within`` (+-25%) per
    profile; ``accuracy``: the accuracy of Panacea's scheme in the same run (``accuracy_metric``);
    ``explained_by``: for a claim the sensitivity table varies, the assumption values that bring
    the ``paper`` profile's number within 25% (or the closest one, and that none does)."""

    id: str
    claim: str
    where: str
    quote: str
    unit: str
    paper: float
    paper_model: str
    model: str
    ours: dict[str, float | None]
    ratio: dict[str, float | None]
    within: dict[str, bool | None]
    accuracy: dict[str, float | None] = Field(default_factory=dict)
    accuracy_metric: str | None = None
    rests_on: list[str] = Field(default_factory=list)
    explained_by: str | None = None


class SensitivityRow(Record):
    """Panacea's ``metric`` on ``model`` with one ``assumption`` at ``value`` (``base``: the paper
    profile's value); ``change``: over the base; ``accuracy``: of the ``dbs`` scheme;
    ``mapping``: the mapping the assumption's base ran (``fixed`` in files that record no
    mapping; an assumption about the fixed tiles runs ``fixed`` under either)."""

    assumption: str
    value: str
    base: bool
    metric: str
    model: str
    ours: float
    change: float
    accuracy: float | None = None
    accuracy_metric: str | None = None
    mapping: MappingMode = "fixed"


class Reproduction(VersionedFile):
    """``reproduce.json`` (module docstring)."""

    NAME = "reproduce.json"
    WHAT = "reproduction"
    COMMAND = "reproduce"
    VERSION = SCHEMA_VERSION

    schema_version: Literal[1] = SCHEMA_VERSION
    panacea_version: str
    created: str
    config: dict
    models: list[dict]
    rows: list[ClaimRow]
    sensitivity: list[SensitivityRow]
    not_computed: list[dict[str, str]]
    seconds: dict[str, float] = Field(default_factory=dict)
