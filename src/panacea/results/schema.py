"""``results.json``: the versioned, validated record of one ``panacea evaluate`` run.

Schema version 1. Everything a report shows is in it, so ``panacea report DIR`` re-renders
without recomputing; ``config`` and ``panacea_version`` record how it was made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from panacea.core.checks import input_error, invalid_file, shown
from panacea.core.files import atomic_write, read_json
from panacea.core.formats import NumberFormat

SCHEMA_VERSION = 1
RESULTS_NAME = "results.json"


class Record(BaseModel):
    # strict: JSON values have their types (no "3" for 3, no true for 1); NaN and infinities (a
    # collapsed model's perplexity) are written as JSON's NaN / Infinity so that they load again.
    model_config = ConfigDict(extra="forbid", strict=True, ser_json_inf_nan="constants")


class VersionedFile(Record):
    """A record saved as one JSON file ``NAME`` in an output directory, written by ``panacea
    COMMAND`` and read back validated, with one clear error if it is missing, of another schema
    version, or not ours."""

    NAME: ClassVar[str]
    WHAT: ClassVar[str]  # what the file is, in errors
    COMMAND: ClassVar[str]
    VERSION: ClassVar[int] = SCHEMA_VERSION

    def save(self, directory: Path) -> Path:
        path = Path(directory) / self.NAME
        atomic_write(path, self.model_dump_json(indent=1).encode())
        return path

    @classmethod
    def load(cls, directory: str | Path):
        path = Path(directory) / cls.NAME
        if not path.is_file():
            raise input_error(
                None, f"{directory} holds no {cls.NAME}: run `panacea {cls.COMMAND} --out {directory}` first"
            )
        doc = read_json(path, cls.WHAT)
        if isinstance(doc, dict) and doc.get("schema_version") != cls.VERSION:
            version = doc.get("schema_version")
            raise input_error(None, f"{path} has schema_version {shown(version)}; this panacea reads {cls.VERSION}")
        try:
            return cls.model_validate(doc)
        except ValidationError as err:
            raise invalid_file(path, err, f"not a valid {cls.WHAT}") from err


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class SchemeRecord(Record):
    """Accuracy of one quantization scheme and the sparsity / work of its GEMMs (mean over layers,
    and per layer in ``layers``), as :func:`panacea.flows.pipeline.run_scheme` measures them; ``format``:
    its number format (:data:`panacea.core.formats.NumberFormat`) and ``calibration`` its resolved
    calibration fields (both unset in a results file that does not record them); ``cached``:
    re-used from the cache by ``--resume``."""

    scheme: str
    label: str
    format: NumberFormat | None = None
    calibration: dict = Field(default_factory=dict)
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

    @model_validator(mode="after")
    def _layers_have_what_reports_read(self) -> SchemeRecord:
        """Each layer has a name; a bit-slice scheme's layers have their sparsities (Fig. 14)."""
        for i, layer in enumerate(self.layers):
            if not isinstance(layer.get("name"), str):
                raise ValueError(f"layers.{i}.name: must be a string")
            if self.act_vector_sparsity is not None:
                for key in ("act_vector_sparsity", "weight_vector_sparsity"):
                    if not _number(layer.get(key)):
                        raise ValueError(f"layers.{i}.{key}: must be a number, got {layer.get(key)!r}")
        return self


class LayerCost(Record):
    name: str
    cycles: int = Field(ge=0)
    energy_pj: float = Field(ge=0)
    # the layer's mapping (panacea.hw.mapping): its text and fields; empty in a results file that
    # records none (its run used the fixed mapping)
    mapping: str = ""
    mapping_fields: dict[str, str | int | bool] = Field(default_factory=dict)


class CostRecord(Record):
    """One design on one scheme's workloads (``variant``: ``""`` as designed, ``"dtp-off"``,
    ``"zero-only"`` or ``"sym-on-panacea"``; see :mod:`panacea.flows.evaluate`)."""

    accelerator: str
    design: str
    kind: str
    scheme: str
    variant: str = ""
    macs: int = Field(ge=1)
    cycles: int = Field(ge=1)  # the reports divide by these: a run always has some
    cycles_compute: int = Field(ge=0)
    cycles_memory: int = Field(ge=0)
    seconds: float = Field(gt=0)
    tops: float = Field(gt=0)
    tops_per_watt: float = Field(gt=0)
    energy_pj: dict[str, Annotated[float, Field(ge=0)]]
    utilization: dict[str, float]
    dram_bits_read: int = Field(ge=0)
    dram_bits_written: int = Field(ge=0)
    # bits read and written per on-chip memory ("<memory>.read" / ".write"); empty in a results
    # file that does not record them
    sram_bits: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    # the design's silicon area per component (panacea.hw.area); empty in a results file that records none
    area_mm2: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    layers: list[LayerCost]

    @property
    def energy_j(self) -> float:
        return sum(self.energy_pj.values()) * 1e-12

    @property
    def total_area_mm2(self) -> float:
        return sum(self.area_mm2.values())

    @property
    def tops_per_mm2(self) -> float | None:
        return self.tops / self.total_area_mm2 if self.area_mm2 else None


class Results(VersionedFile):
    NAME = RESULTS_NAME
    WHAT = "results file"
    COMMAND = "evaluate"

    schema_version: Literal[1] = SCHEMA_VERSION
    panacea_version: str
    created: str
    config: dict
    model: dict[str, str | int]  # name, kind, source; parameters (results written since 0.1.0)
    data: dict
    fp32: dict[str, float]
    schemes: list[SchemeRecord]
    costs: list[CostRecord]
    seconds: dict[str, float] = Field(default_factory=dict)
    # the exact integer GEMM back end of each device the run used (panacea.core.intmm_choice.BackendChoice);
    # empty in a results file that does not record it
    intmm: dict[str, dict] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _has_what_reports_read(self) -> Results:
        for key in ("name", "kind", "source"):
            if key not in self.model:
                raise ValueError(f"model.{key}: missing")
        for key in ("schemes", "accelerators"):
            names = self.config.get(key)
            if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
                raise ValueError(f"config.{key}: must be a list of names, got {names!r}")
        for i, s in enumerate(self.schemes):
            if set(s.metrics) != set(self.fp32):
                raise ValueError(f"schemes.{i}.metrics: has {sorted(s.metrics)}, fp32 has {sorted(self.fp32)}")
        names = [s.scheme for s in self.schemes]
        for i, c in enumerate(self.costs):
            if c.scheme not in names:
                raise ValueError(f"costs.{i}.scheme: {c.scheme!r} is none of the schemes {names}")
        return self

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
