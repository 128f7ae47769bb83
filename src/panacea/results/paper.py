"""The Panacea paper's quantitative claims as validated data (``paper.toml``).

One place for every number of the paper that panacea compares with: ``panacea reproduce`` sets each
claim beside ours on the nearest model we have (:func:`nearest_model`), and the report tables of
``panacea evaluate`` quote their paper numbers from here (:func:`paper_value`). Each claim carries
the sentence it comes from; the statements we cannot compute are listed with the reason.
"""

from __future__ import annotations

import functools
import math
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from panacea.core.checks import parse_toml, validated

Unit = Literal["fraction", "ratio", "pp"]
Kind = Literal["causal-lm", "encoder", "image-classifier"]  # panacea.models.loaders.Kind
NO_MODEL = ""  # a claim whose model the paper does not name: computed on the run's first model
SYNTHETIC = "synthetic"  # a claim on the Fig. 13 sweep's synthetic sparsity


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class PaperModel(_Data):
    label: str = Field(min_length=1)
    kinds: tuple[Kind, ...] = Field(min_length=1)
    parameters: int = Field(gt=0)
    match: tuple[str, ...] = Field(min_length=1)


class Claim(_Data):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    claim: str = Field(min_length=1)
    where: str = Field(min_length=1)
    quote: str = Field(min_length=1)
    paper: float
    unit: Unit
    model: str
    metric: str = Field(min_length=1)
    args: dict[str, object] = Field(default_factory=dict)
    rests_on: tuple[str, ...] = ()


class NotComputed(_Data):
    claim: str = Field(min_length=1)
    why: str = Field(min_length=1)


class Paper(_Data):
    models: dict[str, PaperModel]
    claims: tuple[Claim, ...]
    not_computed: tuple[NotComputed, ...] = ()

    @model_validator(mode="after")
    def _claims_are_distinct_and_name_known_models(self) -> Paper:
        seen: set[str] = set()
        for i, c in enumerate(self.claims):
            if c.id in seen:
                raise ValueError(f"claims.{i}.id: {c.id!r} is used twice")
            seen.add(c.id)
            if c.model not in (NO_MODEL, SYNTHETIC, *self.models):
                raise ValueError(f"claims.{i}.model: {c.model!r} is none of {sorted(self.models)}")
            if not math.isfinite(c.paper):
                raise ValueError(f"claims.{i}.paper: must be a finite number")
        return self

    def claim(self, claim_id: str) -> Claim:
        found = next((c for c in self.claims if c.id == claim_id), None)
        if found is None:
            raise KeyError(f"no claim {claim_id!r} in paper.toml")
        return found


def load_paper(text: str | None = None, where: str = "paper.toml") -> Paper:
    """The shipped claims (or ``text``, a TOML document of the same form), validated."""
    if text is None:
        text = resources.files("panacea.results").joinpath("paper.toml").read_text()
    return validated(Paper, parse_toml(text, where), where)


@functools.cache
def paper() -> Paper:
    """The shipped claims, read once per process."""
    return load_paper()


def paper_value(claim_id: str) -> float:
    return paper().claim(claim_id).paper


def nearest_model(paper_model: PaperModel, ours: list[tuple[str, str, int]]) -> str | None:
    """Which of ``ours`` (name, kind, parameters) stands in for ``paper_model``: the model itself
    if its name says so, else one of the kinds it accepts (in their order of preference), of the
    nearest size on a log scale (ties: the first given). None if no model is of such a kind."""
    for name, _, _ in ours:
        if any(m in name.lower() for m in paper_model.match):
            return name
    for kind in paper_model.kinds:
        same = [(abs(math.log(p / paper_model.parameters)), i, n) for i, (n, k, p) in enumerate(ours) if k == kind]
        if same:
            return min(same)[2]
    return None
