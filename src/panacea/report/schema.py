"""``results.json``: the versioned, validated record of one ``panacea evaluate`` run.

Schema version 1. Everything a report shows is in it, so ``panacea report DIR`` re-renders
without recomputing; ``config`` and ``panacea_version`` record how it was made.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from panacea._checks import first_error
from panacea._io import atomic_write

SCHEMA_VERSION = 1
RESULTS_NAME = "results.json"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SchemeRecord(_Record):
    """Accuracy of one quantization scheme and the sparsity / work of its GEMMs (mean over layers,
    and per layer in ``layers``), as :func:`panacea.study.run_scheme` measures them; ``cached``:
    re-used from the cache by ``--resume``."""

    scheme: str
    label: str
    metrics: dict[str, float]
    act_vector_sparsity: float | None = None
    weight_vector_sparsity: float | None = None
    act_slice_sparsity: float | None = None
    weight_slice_sparsity: float | None = None
    mults_vs_dense: float | None = None
    bits_vs_dense: float | None = None
    layers: list[dict] = Field(default_factory=list)
    seconds: float = 0.0
    cached: bool = False


class LayerCost(_Record):
    name: str
    cycles: int
    energy_pj: float


class CostRecord(_Record):
    """One design on one scheme's workloads (``variant``: ``""`` as designed, ``"dtp-off"``,
    ``"zero-only"`` or ``"sym-on-panacea"``; see :mod:`panacea.evaluate`)."""

    accelerator: str
    design: str
    kind: str
    scheme: str
    variant: str = ""
    macs: int
    cycles: int
    cycles_compute: int
    cycles_memory: int
    seconds: float
    tops: float
    tops_per_watt: float
    energy_pj: dict[str, float]
    utilization: dict[str, float]
    dram_bits_read: int
    dram_bits_written: int
    layers: list[LayerCost]

    @property
    def energy_j(self) -> float:
        return sum(self.energy_pj.values()) * 1e-12


class Results(_Record):
    schema_version: Literal[1] = SCHEMA_VERSION
    panacea_version: str
    created: str
    config: dict
    model: dict[str, str]
    data: dict
    fp32: dict[str, float]
    schemes: list[SchemeRecord]
    costs: list[CostRecord]
    seconds: dict[str, float] = Field(default_factory=dict)

    def scheme(self, name: str) -> SchemeRecord | None:
        return next((s for s in self.schemes if s.scheme == name), None)

    def cost(self, accelerator: str, scheme: str | None = None, variant: str = "") -> CostRecord | None:
        """The run of ``accelerator`` (as named in the config) on ``scheme`` (the first if None)."""
        return next(
            (
                c
                for c in self.costs
                if c.accelerator == accelerator and c.variant == variant and scheme in (None, c.scheme)
            ),
            None,
        )

    def save(self, directory: Path) -> Path:
        path = Path(directory) / RESULTS_NAME
        atomic_write(path, self.model_dump_json(indent=1).encode())
        return path

    @classmethod
    def load(cls, directory: str | Path) -> Results:
        """Read and validate ``DIR/results.json``; one clear error if it is missing or not ours."""
        path = Path(directory) / RESULTS_NAME
        if not path.is_file():
            raise ValueError(f"{directory} holds no {RESULTS_NAME}: run `panacea evaluate --out {directory}` first")
        try:
            doc = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"{path} is not valid JSON: {err}") from err
        if isinstance(doc, dict) and doc.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"{path} has schema_version {doc.get('schema_version')!r}; this panacea reads {SCHEMA_VERSION}"
            )
        try:
            return cls.model_validate(doc)
        except ValidationError as err:
            where, message = first_error(err)
            raise ValueError(f"{path} is not a valid results file: {where}: {message}") from err
