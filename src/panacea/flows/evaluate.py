"""``panacea evaluate``: from a model to the paper's comparison, in one call.

The flow: load the model and its task (:func:`panacea.flows.ptq.make_task`),
score the float model, calibrate every scheme (shared passes), run each quantized scheme with every
GEMM on integers under :func:`~panacea.quant.capture` (accuracy and per-layer workloads with their
real masks), cost the workloads on every accelerator, and return :class:`~panacea.results.Results`
(written as ``results.json``; :func:`panacea.report.render` turns it into tables, CSV and plots).

Schemes are data (:mod:`panacea.schemes`) under a profile (``accurate`` or ``paper``) and the
``assumptions`` changed on the command line. Which workloads each design runs follows from the
number formats it computes on (``formats`` of its spec; the paper's section IV pairing):

- ``panacea`` designs: every ``bitslice-asym`` scheme as designed, and with DTP off (the ablation
  of Fig. 15: AQS-GEMM, +ZPM, +DBS with DTP off, then +DTP; the DTP-off design lacks DTP's
  hardware, and DBS's shifters where the scheme uses no DBS type); on the main scheme
  (:func:`~panacea.report.tables.main_scheme`) also the ``zero-only`` variant, and on every
  ``bitslice-sym`` scheme the ``sym-on-panacea`` variant (Fig. 18, see
  :func:`~panacea.quant.capture.fig18_variants`);
- ``sibia`` designs: every ``bitslice-sym`` scheme (symmetric 7-bit activations, its format);
- dense designs (systolic arrays, SIMD, any integer format): the main scheme (their cost ignores
  sparsity), or the first bit-slice scheme if no ``bitslice-asym`` one runs;
- ``bitserial`` designs (the JSSC 2024 arbitrary-quantization accelerator): every ``arbitrary``
  scheme (``aq``), the model quantized with its own codebooks.

A workload is a GEMM's first evaluation call (a batch of ``batch_size`` windows of ``seqlen``
tokens for causal LMs, all sentences of a batch for encoders, a batch of images for CNNs); layers
left in floating point (the LM head) and the attention products (no weights) are not costed.

Cache (``--resume``): under ``OUT/cache/``, per scheme a directory keyed by the SHA-256 of the
model's weights and source, the task's data and the scheme's resolved definition, holding its
recipe (bit-slice schemes, after calibration) and its captured workloads and metrics (after
evaluation); the float model's metrics likewise. Files are written atomically, so an interrupted
run resumes from what was finished; a run killed outright (SIGKILL) can leave temporary files,
never a partial one, and the next run removes them; a damaged entry is computed again. Costing
always reruns (seconds), so new accelerators need no recomputation.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce
from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

import panacea
import panacea.hw as hw
from panacea.core.checks import check_distinct, input_error, invalid_file
from panacea.core.files import atomic_write, remove_orphans
from panacea.core.formats import SLICE_BITS
from panacea.core.intmm_choice import BackendChoice, choose_backend
from panacea.core.progress import Progress, stage_progress
from panacea.flows.pipeline import calibrate, run
from panacea.flows.ptq import make_task, overrides_json, resolve_schemes
from panacea.hw.mapping import MappingMode, Objective
from panacea.models.device import Device, on_device, resolve_device
from panacea.models.loaders import LoadedModel, load_model
from panacea.models.memory import drop_pages
from panacea.quant import QuantRecipe
from panacea.results.queries import main_scheme
from panacea.results.schema import CostRecord, LayerCost, Results, SchemeRecord
from panacea.schemes import (
    SHIPPED_SCHEMES,
    BitSliceScheme,
    Scheme,
    accepted,
    check_assumptions,
    load_profile,
    load_scheme,
    load_schemes,
    resolve,
)
from panacea.workload import Workload, save_workloads, workloads_from_bytes

CACHE_VERSION = 3
DEFAULT_ACCELERATORS = ("panacea", "sibia", "simd", "sa-ws", "sa-os", "aq-bitserial")
log = logging.getLogger(__name__)


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
    (:mod:`panacea.hw.mapping`; results written before the mapper ran ``fixed``). ``stream``: load a
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


def _format_of(scheme: str) -> str | None:
    """The format of a scheme name or file, or None if it does not load (the schemes validator
    then reports why)."""
    try:
        return load_scheme(scheme).format
    except ValueError:
        return None


def check_output(out: Path) -> Path:
    """Raise one clear error unless ``out`` is, or can be created as, a writable directory; creates
    nothing (a run that fails on later input leaves no trace)."""
    existing = next(p for p in (out, *out.parents) if p.exists() or p == Path(p.anchor))
    if not existing.is_dir():
        raise ValueError(f"output directory {str(out)!r} cannot be created: {str(existing)!r} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"output directory {str(out)!r} is not writable ({str(existing)!r} is not)")
    return out


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


def model_fingerprint(model: torch.nn.Module) -> str:
    """SHA-256 of every parameter and buffer (names, shapes and bytes)."""
    h = hashlib.sha256()
    for name, t in sorted({**dict(model.named_parameters()), **dict(model.named_buffers())}.items()):
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update(memoryview(t.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy()))
        drop_pages(t)  # a streamed block's weights go back to disk once read
    return h.hexdigest()


class Cache:
    """Per-scheme results under ``root``, keyed by model, data and configuration (module docs).

    ``resume``: re-use the entries of earlier runs. Entries this object wrote are always re-used:
    the runs of one ``panacea reproduce`` (two profiles, the sensitivity runs) share them.
    """

    def __init__(self, root: Path, resume: bool):
        self.root, self.resume = Path(root), resume
        self.written: set[Path] = set()

    def dir(self, key: dict, scheme: str, config: object) -> Path:
        text = json.dumps({**key, "scheme": scheme, "config": config}, sort_keys=True, default=str)
        return self.root / f"{scheme}-{hashlib.sha256(text.encode()).hexdigest()[:20]}"

    def read(self, path: Path, reader: Callable):
        """``reader(path)`` when resuming (or written here) and it succeeds; a damaged entry (every
        loader raises ``ValueError`` or ``OSError`` naming the file and the field) is a miss, said
        in one line."""
        if not (self.resume or path in self.written) or not path.exists():
            return None
        try:
            return reader(path)
        except (OSError, ValueError) as err:
            log.warning("cache entry %s is damaged (%s): computing it again", path, err)
            return None

    def write(self, path: Path, data: bytes | Callable[[Path], object]) -> None:
        """``data`` written atomically to ``path`` (or ``data(path)``: a writer of its own, such as
        :meth:`QuantRecipe.save`), remembered as written by this run."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            atomic_write(path, data)
        else:
            data(path)
        self.written.add(path)


def _load_capture(path: Path) -> tuple[SchemeRecord, dict[str, list[Workload]]]:
    try:
        groups, meta = workloads_from_bytes(path.read_bytes())
        return SchemeRecord.model_validate(meta), groups
    except ValidationError as err:
        raise invalid_file(path, err, "meta") from err
    except ValueError as err:
        raise input_error(path, str(err)) from err


_METRICS = TypeAdapter(dict[str, float])


def _load_metrics(path: Path) -> dict[str, float]:
    try:
        return _METRICS.validate_json(path.read_bytes())
    except ValidationError as err:
        raise invalid_file(path, err) from err


def _cost_record(
    name: str, model: hw.CostModel, scheme: str, variant: str, workloads: list[Workload], per_layer: list[hw.Cost]
) -> CostRecord:
    """The record of ``model`` on ``workloads``, from each one's cost (``model.run(w)``)."""
    total = reduce(lambda a, b: a + b, per_layer)
    return CostRecord(
        accelerator=name,
        design=total.design,
        kind=model.spec.kind,
        scheme=scheme,
        variant=variant,
        macs=total.macs,
        cycles=total.cycles,
        cycles_compute=total.cycles_compute,
        cycles_memory=total.cycles_memory,
        seconds=total.seconds,
        tops=total.tops,
        tops_per_watt=total.tops_per_watt,
        energy_pj=total.energy_pj,
        utilization=total.utilization,
        dram_bits_read=total.dram_bits_read,
        dram_bits_written=total.dram_bits_written,
        sram_bits=total.sram_bits,
        area_mm2=total.area_mm2,
        layers=[
            LayerCost(
                name=w.name,
                cycles=c.cycles,
                energy_pj=sum(c.energy_pj.values()),
                mapping=c.mapping.describe(),
                mapping_fields=c.mapping.as_dict(),
            )
            for w, c in zip(workloads, per_layer, strict=True)
        ],
    )


def _ablated(model: hw.CostModel, workloads: list[Workload]) -> hw.CostModel:
    """``model``'s Panacea before +DTP in Fig. 15: without DTP's hardware, and without DBS's
    shifters too when no workload uses a DBS type (the AQS-GEMM and +ZPM steps), so each step's
    area counts what it adds (ZPM nothing, DBS its shifters, DTP its buffers and S-ACCs)."""
    spec = hw.without_dtp(model.spec)
    if all(w.lo_bits == SLICE_BITS for w in workloads):
        spec = hw.with_core(spec, dbs=False)
    return hw.model_for(spec, model.energy, mapping=model.mapping, objective=model.objective)


def cost_runs(
    models: dict[str, hw.CostModel],
    formats: dict[str, str],
    captures: dict[str, dict[str, list[Workload]]],
    progress: Progress | None = None,
) -> list[CostRecord]:
    """Every (accelerator, scheme, variant) the module docstring lists, costed layer by layer;
    ``formats``: each scheme's number format, in the order of the run."""
    main = main_scheme(formats)
    runs: list[tuple[str, hw.CostModel, str, str, list[Workload]]] = []
    for name, model in models.items():
        mine = [s for s, f in formats.items() if f in model.spec.formats]
        if model.spec.dense:
            first = main if main is not None else mine[0]
            runs.append((name, model, first, "", captures[first]["main"]))
        elif model.spec.kind == "panacea":
            for s in mine:
                runs.append((name, model, s, "", captures[s]["main"]))
                if model.spec.core.dtp:
                    runs.append((name, _ablated(model, captures[s]["main"]), s, "dtp-off", captures[s]["main"]))
            runs.append((name, model, main, "zero-only", captures[main]["zero-only"]))
            for s in (s for s, f in formats.items() if f == "bitslice-sym" and "sym-on-panacea" in captures[s]):
                runs.append((name, model, s, "sym-on-panacea", captures[s]["sym-on-panacea"]))
        else:
            runs += [(name, model, s, "", captures[s]["main"]) for s in mine]
    # Runs of the same workloads are costed workload by workload across their designs, which then
    # share each workload's slice tiles (hw.run_together); each design still sees its workloads in
    # the order of the list above, so its mapping choices, and every cost, are those of a run alone.
    per_layer: list[list[hw.Cost]] = [[] for _ in runs]
    sharing: dict[int, tuple[list[Workload], list[int]]] = {}
    for i, (*_, workloads) in enumerate(runs):
        sharing.setdefault(id(workloads), (workloads, []))[1].append(i)
    done = 0
    for workloads, members in sharing.values():
        for w in workloads:
            for i in members:
                per_layer[i].append(runs[i][1].run(w))
        done += len(members)
        if progress:
            progress("cost", done, len(runs))
    return [_cost_record(*job, costs) for job, costs in zip(runs, per_layer, strict=True)]


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


def run_schemes(
    config: EvaluateConfig, cache: Cache, *, lm: LoadedModel | None = None, progress: Progress | None = None
) -> SchemeRuns:
    """Load the model (unless ``lm`` is given), score it in floating point, calibrate and run every
    scheme of ``config`` under a capture; what ``cache`` holds is re-used (module docs)."""
    lm = load_model(config.model, stream=config.stream) if lm is None else lm
    on_device(lm.model, resolve_device(config.device))
    task = make_task(
        lm,
        config.data,
        tokens=config.tokens,
        calib_tokens=config.calib_tokens,
        seqlen=config.seqlen,
        batch_size=config.batch_size,
    )
    schemes = resolve_schemes(
        lm, config.schemes, config.profile, config.assumptions, paper_overrides=config.paper_overrides
    )
    base = {"cache": CACHE_VERSION, "panacea": panacea.__version__, "source": lm.source, "data": task.data}
    key = {**base, "weights": model_fingerprint(lm.model)}

    captures: dict[str, dict[str, list[Workload]]] = {}
    records: dict[str, SchemeRecord] = {}
    dirs = {s.name: cache.dir(key, s.name, s.model_dump(mode="json")) for s in schemes}
    for s in schemes:
        hit = cache.read(dirs[s.name] / "capture.safetensors", _load_capture)
        if hit is not None:
            records[s.name], captures[s.name] = hit
            records[s.name] = records[s.name].model_copy(update={"cached": True})
    todo = [s for s in schemes if s.name not in records]

    fp32_file = cache.dir(key, "fp32", None) / "metrics.json"
    fp32 = None if (todo and task.fp32_first) else cache.read(fp32_file, _load_metrics)
    fp32_seconds = 0.0
    if fp32 is None:
        t0 = time.perf_counter()
        fp32 = task.evaluate(lm.model, stage_progress(progress, "fp32"))
        fp32_seconds = time.perf_counter() - t0
        cache.write(fp32_file, json.dumps(fp32).encode())

    # Bit-slice calibrations are cached as recipes; codebooks (arbitrary schemes) take seconds.
    recipes = {s.name: cache.read(dirs[s.name], QuantRecipe.load) for s in todo if isinstance(s, BitSliceScheme)}
    calibrated = {name: r for name, r in recipes.items() if r is not None}
    t0 = time.perf_counter()
    fresh = calibrate(lm.model, task.batches, [s for s in todo if s.name not in calibrated], progress)
    for name, c in fresh.items():
        if isinstance(c, QuantRecipe):
            cache.write(dirs[name], c.save)
    calibrated |= fresh
    calibration_seconds = time.perf_counter() - t0

    for s in todo:
        done = run(lm.model, task, s, calibrated[s.name], progress, variants=True)
        records[s.name], captures[s.name] = done.record, done.workloads
        write = functools.partial(save_workloads, groups=done.workloads, meta=done.record.model_dump())
        cache.write(dirs[s.name] / "capture.safetensors", write)

    return SchemeRuns(
        model={"name": lm.name, "kind": lm.kind, "source": lm.source, "parameters": parameter_count(lm.model)},
        data=dict(task.data, overrides=overrides_json(schemes)),
        schemes=schemes,
        fp32=fp32,
        records={s.name: records[s.name] for s in schemes},
        captures=captures,
        calibration_seconds=calibration_seconds,
        fp32_seconds=fp32_seconds,
    )


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


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
    runs = run_schemes(config, cache, lm=lm, progress=progress)
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
