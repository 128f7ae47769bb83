"""``panacea evaluate``: from a model to the paper's comparison, in one call.

The flow: load the model and its task (:func:`panacea.tasks.make_task`),
score the float model, calibrate every scheme (shared passes), run each quantized scheme with every
GEMM on integers under :func:`~panacea.quant.capture` (accuracy and per-layer workloads with their
real masks), cost the workloads on every accelerator, and return :class:`~panacea.results.Results`
(written as ``results.json``; :func:`panacea.report.render` turns it into tables, CSV and plots).

Schemes are data (:mod:`panacea.schemes`) under a profile (``accurate`` or ``paper``) and the
``assumptions`` changed on the command line; they run through the one pipeline
(:mod:`panacea.flows.pipeline`) and are costed as :mod:`panacea.flows.costing` says.

A workload is a GEMM's first evaluation call (a batch of ``batch_size`` windows of ``seqlen``
tokens for causal LMs, all sentences of a batch for encoders, a batch of images for CNNs); layers
left in floating point (the LM head) and the attention products (no weights) are not costed.

Cache (``--resume``): under ``OUT/cache/`` (:mod:`panacea.flows.cache`). Costing always reruns
(seconds), so new accelerators need no recomputation.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

import panacea
import panacea.hw as hw
from panacea.core.checks import check_distinct
from panacea.core.files import remove_orphans
from panacea.core.intmm_choice import BackendChoice, choose_backend
from panacea.core.progress import Progress
from panacea.flows.cache import Cache, check_output
from panacea.flows.costing import cost_runs
from panacea.flows.pipeline import RunConfig, SchemeRuns, run_schemes
from panacea.hw.mapping import MappingMode, Objective
from panacea.models.device import Device, resolve_device
from panacea.models.loaders import LoadedModel
from panacea.results.schema import Results
from panacea.schemes import (
    SHIPPED_SCHEMES,
    accepted,
    check_assumptions,
    load_profile,
    load_scheme,
    load_schemes,
    resolve,
)

DEFAULT_ACCELERATORS = ("panacea", "sibia", "simd", "sa-ws", "sa-os", "aq-bitserial")


class EvaluateConfig(BaseModel):
    """What ``panacea evaluate`` runs (recorded in ``results.json``).

    ``tokens`` / ``calib_tokens`` / ``seqlen`` / ``batch_size`` apply to causal LMs: perplexity on
    the first ``tokens`` of ``data`` (whole windows of ``seqlen``), calibration on the next
    ``calib_tokens``. ``schemes``: shipped names or scheme TOML files; ``profile``: a shipped
    profile (``accurate``, ``paper``) or a TOML file; ``assumptions``: calibration fields changed for
    every scheme that leaves them unset (over the profile's defaults); ``paper_overrides``: apply
    the profile's per-architecture mixed precision. ``accelerators``: shipped designs or TOML spec
    files (unset: the shipped designs the schemes can run); ``energy``: an energy table TOML
    (default: the shipped 28 nm one); ``mapping`` / ``objective``: how each design maps each GEMM
    (:mod:`panacea.hw.mapping`; a results file that records no mapping ran ``fixed``). ``stream``: load a
    local or hub model block-streamed (:mod:`panacea.models.streaming`; ``False``: whole, in
    float32); ``device``: where the model and its integer GEMMs run (:mod:`panacea.models.device`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = "smollm2-135m"
    data: str | None = None
    schemes: tuple[str, ...] = ("sym", "asym", "zpm", "dbs", "aq")
    profile: str = "accurate"
    assumptions: dict[str, str | int | float | bool] = Field(default_factory=dict)
    accelerators: tuple[str, ...] = DEFAULT_ACCELERATORS
    tokens: int = Field(default=8192, ge=2)
    calib_tokens: int = Field(default=4096, ge=2)
    seqlen: int = Field(default=512, ge=2)
    batch_size: int = Field(default=4, ge=1)
    paper_overrides: bool = True
    energy: str | None = None
    mapping: MappingMode = "search"
    objective: Objective = "energy"
    stream: bool = True
    device: Device = "cpu"

    @model_validator(mode="before")
    @classmethod
    def _default_accelerators(cls, data):
        """Left unset (or None), the accelerators are every shipped design whose scheme is evaluated
        (``aq-bitserial`` only with an arbitrary-quantization scheme)."""
        if isinstance(data, dict) and data.get("accelerators") is None:
            schemes = data.get("schemes") or cls.model_fields["schemes"].default
            aq = any(_format_of(s) == "arbitrary" for s in schemes)
            data = {**data, "accelerators": tuple(a for a in DEFAULT_ACCELERATORS if aq or a != "aq-bitserial")}
        return data

    @field_validator("schemes")
    @classmethod
    def _schemes(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v or len(set(v)) != len(v):
            raise ValueError(
                f"schemes must be distinct, at least one: shipped {list(SHIPPED_SCHEMES)} or TOML files (fp32 "
                f"always runs), got {list(v)}"
            )
        load_schemes(v)  # raises naming the scheme and its bad field, or a name given twice
        return v

    @field_validator("profile")
    @classmethod
    def _profile(cls, v: str) -> str:
        load_profile(v)  # raises naming the file and its bad field
        return v

    @field_validator("assumptions")
    @classmethod
    def _assumptions(cls, v: dict) -> dict:
        check_assumptions(v)
        return v

    @model_validator(mode="after")
    def _schemes_resolve(self) -> EvaluateConfig:
        """Profile, changes and schemes together, before any model is loaded (the model's own
        architecture overrides are checked again when it is)."""
        profile = load_profile(self.profile)
        for s in load_schemes(self.schemes):
            try:
                resolve(s, profile, None, self.assumptions)
            except ValueError as err:
                raise ValueError(f"schemes: {err}") from err
        return self

    @field_validator("accelerators")
    @classmethod
    def _accelerators(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return check_distinct("accelerators", v)

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        resolve_device(v)  # cuda without CUDA: one error, before anything runs
        return v

    def model_run(self) -> RunConfig:
        """What the pipeline runs of this configuration (the costing aside)."""
        fields = RunConfig.__dataclass_fields__
        return RunConfig(**{name: getattr(self, name) for name in fields})


def _format_of(scheme: str) -> str | None:
    """The format of a scheme name or file, or None if it does not load (the schemes validator
    then reports why)."""
    try:
        return load_scheme(scheme).format
    except ValueError:
        return None


def load_accelerators(config: EvaluateConfig) -> dict[str, hw.CostModel]:
    """The cost model of every accelerator, checked against the schemes' formats before anything runs."""
    energy = None if config.energy is None else hw.load_energy(config.energy)
    models = {
        name: hw.load(name, energy, mapping=config.mapping, objective=config.objective) for name in config.accelerators
    }
    schemes = load_schemes(config.schemes)
    for name, m in models.items():
        if not accepted(m.spec.formats, schemes):
            fits = [n for n in SHIPPED_SCHEMES if load_scheme(n).format in m.spec.formats]
            raise ValueError(
                f"accelerator {name} computes on {' or '.join(m.spec.formats)} numbers and no scheme given has "
                f"that format: add one to schemes (shipped: {', '.join(fits)})"
            )
    return models


def integer_backends(device: Device) -> dict[str, BackendChoice]:
    """The exact integer GEMM back end of every device a run on ``device`` uses: the CPU (a
    capture's bit-slice GEMMs run there) and the model's; chosen here, before any stage is timed."""
    return {d: choose_backend(d) for d in dict.fromkeys(("cpu", resolve_device(device).type))}


def results_of(
    config: EvaluateConfig, runs: SchemeRuns, models: dict[str, hw.CostModel], progress: Progress | None = None
) -> Results:
    """Cost the runs' workloads on every design and gather everything into :class:`Results`."""
    t0 = time.perf_counter()
    costs = cost_runs(models, runs.formats, runs.captures, progress)
    return Results(
        panacea_version=panacea.__version__,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        config=config.model_dump(mode="json"),
        model=runs.model,
        data=runs.data,
        fp32=runs.fp32,
        schemes=list(runs.records.values()),
        costs=costs,
        seconds={
            "fp32": runs.fp32_seconds,
            "calibration": runs.calibration_seconds,
            **{f"run_{name}": r.seconds for name, r in runs.records.items() if not r.cached},
            "cost_models": time.perf_counter() - t0,
        },
        intmm={d: c.as_dict() for d, c in integer_backends(config.device).items()},
    )


def evaluate_runs(
    config: EvaluateConfig,
    out: str | Path,
    *,
    resume: bool = False,
    progress: Progress | None = None,
    cache: Cache | None = None,
    lm: LoadedModel | None = None,
) -> tuple[Results, SchemeRuns]:
    """:func:`evaluate`, also returning the scheme runs (their workloads). ``resume``: re-use
    ``OUT/cache``; a ``cache`` given instead carries its own rule."""
    started = time.perf_counter()
    out = check_output(Path(out))
    models = load_accelerators(config)
    integer_backends(config.device)
    cache = Cache(out / "cache", resume) if cache is None else cache
    for root in dict.fromkeys((out, cache.root)):  # what a run killed while writing (SIGKILL) left
        remove_orphans(root)
    runs = run_schemes(config.model_run(), cache, lm=lm, progress=progress)
    results = results_of(config, runs, models, progress)
    results.seconds["total"] = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    results.save(out)
    return results, runs


def evaluate(config: EvaluateConfig, out: str | Path, **options) -> Results:
    """Run the whole flow of the module docstring; writes ``OUT/results.json`` and the cache.
    ``options`` as :func:`evaluate_runs` takes them: ``resume``, ``progress``, ``cache`` (another
    run's, shared; default ``OUT/cache``) and ``lm`` (the model, already loaded)."""
    return evaluate_runs(config, out, **options)[0]
