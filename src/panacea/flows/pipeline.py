"""The one pipeline every flow runs a model's schemes through.

load the model -> its task (:func:`panacea.tasks.make_task`) -> resolve the schemes under the
profile -> score the float model -> calibrate every scheme (one :class:`~panacea.quant.quantizer.Quantizer`
per number format; calibrations share their passes over the data) -> run each quantized scheme
with every GEMM on integers under a capture (accuracy, measured sparsity and work, and the
per-layer workloads the cost models take: ``"main"``, plus Fig. 18's variants where asked).

:func:`run_schemes` runs it all, re-using what a :class:`~panacea.flows.cache.Cache` holds;
``panacea evaluate`` / ``reproduce`` / ``dse`` / ``ptq`` call it, and ``panacea rtl`` takes its
calibration (:meth:`SchemePipeline.calibrate`).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

import panacea
from panacea.core.progress import Progress, stage_progress
from panacea.flows.cache import CACHE_VERSION, Cache, load_capture, load_metrics, model_fingerprint
from panacea.models.device import on_device, resolve_device
from panacea.models.loaders import LoadedModel, load_model
from panacea.models.run import as_batches
from panacea.quant.quantizer import Quantizer, quantizer_for
from panacea.results.schema import SchemeRecord
from panacea.schemes import Scheme, load_profile, load_schemes, resolve
from panacea.tasks import Task, make_task
from panacea.workload import Workload
from panacea.workload.codec import save_workloads


@dataclass(frozen=True)
class RunConfig:
    """What the pipeline runs: ``model`` (a shipped name, a directory or a hub id) under
    ``schemes`` (shipped names or TOML files) and ``profile`` with ``assumptions`` changed;
    ``tokens`` ... ``batch_size`` as :func:`~panacea.tasks.make_task` takes them; ``paper_overrides``:
    apply the profile's per-architecture mixed precision; ``stream`` / ``device``: how the model is
    loaded and where it runs. Validated by the flows that build it (``EvaluateConfig``)."""

    model: str
    schemes: tuple[str | Path, ...]
    data: str | None = None
    profile: str | Path = "accurate"
    assumptions: Mapping[str, object] = field(default_factory=dict)
    tokens: int = 8192
    calib_tokens: int = 4096
    seqlen: int = 512
    batch_size: int = 4
    paper_overrides: bool = True
    stream: bool = True
    device: str = "cpu"


@dataclass
class SchemeRun:
    record: SchemeRecord
    workloads: dict[str, list[Workload]]


@dataclass
class SchemeRuns:
    """Every scheme of a configuration run on its model (:func:`run_schemes`): what costing needs
    (``captures``: per scheme its workload groups, ``"main"`` and the Fig. 18 variants) and what
    ``results.json`` records."""

    model: dict[str, str | int]
    data: dict
    schemes: list[Scheme]
    fp32: dict[str, float]
    records: dict[str, SchemeRecord]
    captures: dict[str, dict[str, list[Workload]]]
    calibration_seconds: float
    fp32_seconds: float = 0.0  # scoring the float model (0 when its metrics were cached)

    @property
    def formats(self) -> dict[str, str]:
        return {s.name: s.format for s in self.schemes}


def model_type(lm: LoadedModel) -> str | None:
    """The Hugging Face ``config.model_type`` a profile's per-architecture overrides are keyed by."""
    return getattr(getattr(lm.model, "config", None), "model_type", None)


def resolve_schemes(
    lm: LoadedModel,
    names: Sequence[str | Path],
    profile: str | Path = "accurate",
    changes: Mapping[str, object] | None = None,
    *,
    paper_overrides: bool = True,
) -> list[Scheme]:
    """The schemes ``names`` (shipped names or TOML files) under ``profile`` for ``lm``'s architecture
    (:func:`panacea.schemes.resolve`); ``paper_overrides=False`` drops the profile's per-layer
    precision. Names must be distinct."""
    prof, arch = load_profile(profile), model_type(lm)
    return [resolve(s, prof, arch, changes, architecture_overrides=paper_overrides) for s in load_schemes(names)]


def overrides_json(schemes: Sequence[Scheme]) -> list[dict]:
    """The per-layer overrides of the first scheme that has a per-layer precision (the profile's
    mixed precision), as JSON."""
    first = next((s for s in schemes if s.layer_overrides is not None), None)
    return [] if first is None else [o.model_dump(exclude_defaults=True) for o in first.layer_overrides]


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def calibrate(
    model: nn.Module, batches: list, schemes: Sequence[Scheme], progress: Progress | None = None
) -> dict[str, Any]:
    """Every scheme's calibration (name -> what its quantizer calibrates), sharing the passes: the
    quantizers that need one observing pass ride on the first pass of the one that needs its own."""
    batches = as_batches(batches)
    families: dict[int, tuple[Quantizer, dict[str, Any]]] = {}
    for s in schemes:
        q = quantizer_for(s.format)
        families.setdefault(id(q), (q, {}))[1][s.name] = s.calibration
    riders = {key: q.rider(model, len(batches), configs) for key, (q, configs) in families.items()}
    # the families that need passes of their own; with none, the first family leads its one pass
    leaders = [key for key, r in riders.items() if r is None] or list(families)[:1]
    passengers = [r for key, r in riders.items() if key not in leaders]
    out: dict[str, Any] = {}
    for i, key in enumerate(leaders):
        q, configs = families[key]
        out |= q.calibrate(model, batches, configs, progress=progress, riders=passengers if i == 0 else ())
    for r in passengers:
        out |= r.calibrations()
    return out


def run_scheme(
    model: nn.Module, task: Task, scheme: Scheme, calibrated: Any, progress: Progress | None = None, *, variants: bool
) -> SchemeRun:
    """Score ``model`` quantized by ``scheme``'s ``calibrated`` parameters, capturing its workloads."""
    t0 = time.perf_counter()
    record = SchemeRecord(
        scheme=scheme.name,
        label=scheme.label,
        format=scheme.format,
        calibration=scheme.calibration.model_dump(mode="json"),
        metrics={},
    )
    q = quantizer_for(scheme.format)
    with q.applied(model, calibrated, scheme.calibration, variants=variants) as (qmodel, capture):
        record.metrics = task.score(qmodel, stage_progress(progress, scheme.name))
    for name, value in q.summary(capture).items():
        setattr(record, name, value)
    workloads = q.workloads(capture)
    record.seconds = time.perf_counter() - t0
    return SchemeRun(record, workloads)


class SchemePipeline:
    """One model and its resolved schemes, ready to run (module docstring); ``cache``: re-use and
    keep what it holds (``None``: keep nothing); ``lm``: the model, already loaded."""

    def __init__(
        self,
        config: RunConfig,
        cache: Cache | None = None,
        *,
        lm: LoadedModel | None = None,
        progress: Progress | None = None,
    ):
        self.config, self.cache, self.progress = config, cache, progress
        self.lm = load_model(config.model, stream=config.stream) if lm is None else lm
        on_device(self.lm.model, resolve_device(config.device))
        self.task = make_task(
            self.lm,
            config.data,
            tokens=config.tokens,
            calib_tokens=config.calib_tokens,
            seqlen=config.seqlen,
            batch_size=config.batch_size,
        )
        self.schemes = resolve_schemes(
            self.lm, config.schemes, config.profile, config.assumptions, paper_overrides=config.paper_overrides
        )
        self._key: dict | None = None
        self.calibration_seconds = 0.0

    def _dir(self, scheme: str, definition: object) -> Path | None:
        """The cache directory of one scheme (``None`` without a cache)."""
        if self.cache is None:
            return None
        if self._key is None:
            base = {"cache": CACHE_VERSION, "panacea": panacea.__version__, "source": self.lm.source}
            self._key = {**base, "data": self.task.data, "weights": model_fingerprint(self.lm.model)}
        return self.cache.dir(self._key, scheme, definition)

    def _read(self, path: Path | None, reader):
        return None if path is None else self.cache.read(path, reader)

    def _write(self, path: Path | None, data) -> None:
        if path is not None:
            self.cache.write(path, data)

    def fp32(self, cached: bool) -> tuple[dict[str, float], float]:
        """The float model's metrics and the seconds they took (0 when ``cached`` ones are re-used)."""
        path = self._dir("fp32", None)
        metrics = self._read(path / "metrics.json", load_metrics) if cached and path is not None else None
        if metrics is not None:
            return metrics, 0.0
        t0 = time.perf_counter()
        metrics = self.task.score(self.lm.model, stage_progress(self.progress, "fp32"))
        seconds = time.perf_counter() - t0
        self._write(None if path is None else path / "metrics.json", json.dumps(metrics).encode())
        return metrics, seconds

    def calibrate(self, schemes: Sequence[Scheme] | None = None) -> dict[str, Any]:
        """The calibration of ``schemes`` (default: all), re-using and keeping what the cache holds;
        ``calibration_seconds``: what calibrating and keeping the fresh ones took."""
        schemes = self.schemes if schemes is None else schemes
        found: dict[str, Any] = {}
        for s in schemes:
            keeper = quantizer_for(s.format).keeper
            hit = self._read(self._dir(s.name, s.model_dump(mode="json")), keeper.load) if keeper else None
            if hit is not None:
                found[s.name] = hit
        t0 = time.perf_counter()
        fresh = calibrate(self.lm.model, self.task.batches, [s for s in schemes if s.name not in found], self.progress)
        for s in schemes:
            keeper = quantizer_for(s.format).keeper
            if s.name in fresh and keeper:
                self._write(self._dir(s.name, s.model_dump(mode="json")), functools.partial(keeper.save, fresh[s.name]))
        self.calibration_seconds = time.perf_counter() - t0
        return found | fresh

    def run(self, *, variants: bool = True) -> SchemeRuns:
        """Score the float model, calibrate and run every scheme under a capture (cached runs re-used)."""
        captures: dict[str, dict[str, list[Workload]]] = {}
        records: dict[str, SchemeRecord] = {}
        dirs = {s.name: self._dir(s.name, s.model_dump(mode="json")) for s in self.schemes}
        for s in self.schemes:
            hit = self._read(None if dirs[s.name] is None else dirs[s.name] / "capture.safetensors", load_capture)
            if hit is not None:
                records[s.name], captures[s.name] = hit
                records[s.name] = records[s.name].model_copy(update={"cached": True})
        todo = [s for s in self.schemes if s.name not in records]
        fp32, fp32_seconds = self.fp32(cached=not (todo and self.task.fp32_first))
        calibrated = self.calibrate(todo)
        for s in todo:
            done = run_scheme(self.lm.model, self.task, s, calibrated[s.name], self.progress, variants=variants)
            records[s.name], captures[s.name] = done.record, done.workloads
            write = functools.partial(save_workloads, groups=done.workloads, meta=done.record.model_dump())
            self._write(None if dirs[s.name] is None else dirs[s.name] / "capture.safetensors", write)
        lm = self.lm
        return SchemeRuns(
            model={"name": lm.name, "kind": lm.kind, "source": lm.source, "parameters": parameter_count(lm.model)},
            data=dict(self.task.data, overrides=overrides_json(self.schemes)),
            schemes=self.schemes,
            fp32=fp32,
            records={s.name: records[s.name] for s in self.schemes},
            captures=captures,
            calibration_seconds=self.calibration_seconds,
            fp32_seconds=fp32_seconds,
        )


def run_schemes(
    config: RunConfig,
    cache: Cache | None = None,
    *,
    lm: LoadedModel | None = None,
    progress: Progress | None = None,
    variants: bool = True,
) -> SchemeRuns:
    """Load the model (unless ``lm`` is given), score it in floating point, calibrate and run every
    scheme of ``config`` under a capture (with Fig. 18's ``variants``); what ``cache`` holds is
    re-used and what is computed kept (module docs)."""
    return SchemePipeline(config, cache, lm=lm, progress=progress).run(variants=variants)
