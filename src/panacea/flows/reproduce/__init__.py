"""``panacea reproduce``: our numbers beside the paper's, claim by claim, and what moves them.

For each model, ``panacea evaluate`` runs under both profiles (``paper``: our reading of the paper,
per-tensor weights; ``accurate``: per-channel weights), sharing one cache, with the schemes every
claim needs (:data:`SCHEMES`) on the paper's five designs; then the Fig. 13 sweep. Each claim of
:mod:`panacea.results.paper` is computed (:mod:`panacea.flows.reproduce.claims`) on the nearest model of the run
(:func:`panacea.results.paper.nearest_model`) under each profile. Around the ``paper`` profile, each
assumption of :mod:`panacea.flows.reproduce.sensitivity` is varied on its own.

Writes into ``OUT``: ``reproduce.json`` (:class:`Reproduction`, validated on load), ``reproduce.md``
(the claims table, the sensitivity table, the tornado charts), ``tornado-MODEL.png``,
``sweep.csv`` / ``sweep.png``, and per model and profile the full ``panacea evaluate`` output
(``MODEL/PROFILE/``); ``cache/`` is shared by all of them (``--resume`` re-uses it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

import panacea
from panacea.core.checks import check_distinct
from panacea.core.files import remove_orphans
from panacea.core.progress import Progress, stage_progress
from panacea.flows.cache import Cache, check_output
from panacea.flows.evaluate import EvaluateConfig, evaluate_runs
from panacea.flows.pipeline import SchemeRuns, run_schemes
from panacea.flows.reproduce.claims import MODEL_METRICS, SENSITIVITY_METRICS, SWEEP_METRICS
from panacea.flows.reproduce.sensitivity import BASE, METRICS, Assumption, Variation, comparison, shipped_assumptions
from panacea.flows.reproduce.sensitivity import DESIGNS as COMPARED
from panacea.flows.reproduce.sensitivity import SCHEME_NAMES as COMPARED_SCHEMES
from panacea.flows.sweep import plot as plot_sweep
from panacea.flows.sweep import sparsity_sweep, summary, write_csv
from panacea.hw.mapping import MappingMode, Objective
from panacea.models.device import Device, resolve_device
from panacea.models.loaders import BUILTIN, LoadedModel, load_model, optional_models
from panacea.report import render
from panacea.report.reproduction import render as render_reproduction
from panacea.results.paper import NO_MODEL, SYNTHETIC, Claim, nearest_model, paper
from panacea.results.reproduction import MATCH, NOT_STATED, PROFILES, ClaimRow, Reproduction, SensitivityRow
from panacea.results.schema import Results

SCHEMES = ("sym", "asym", "zpm", "dbs", "optq4", "sym-optq4")  # Figs. 15, 16-17, 18(a), 19
DESIGNS = ("panacea", "sibia", "simd", "sa-ws", "sa-os")


def default_models() -> tuple[str, ...]:
    """The shipped models, and every opt-in one that is installed (all-mpnet-base-v2)."""
    return (*BUILTIN, *optional_models())


class ReproduceConfig(BaseModel):
    """What ``panacea reproduce`` runs. ``tokens`` ... ``batch_size``: as ``panacea evaluate``
    takes them (causal LMs); ``sensitivity``: ``all`` assumptions, only the ``hardware`` ones
    (no model run again), or ``none``; ``mapping`` / ``objective``: how every design maps each GEMM
    (:mod:`panacea.hw.mapping`) of the models; the Fig. 13 sweep's mappings minimise latency;
    ``device`` / ``stream``: as :class:`~panacea.flows.evaluate.EvaluateConfig` takes them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: tuple[str, ...] = Field(default_factory=default_models)
    tokens: int = Field(default=8192, ge=2)
    calib_tokens: int = Field(default=4096, ge=2)
    seqlen: int = Field(default=512, ge=2)
    batch_size: int = Field(default=4, ge=1)
    sensitivity: Literal["all", "hardware", "none"] = "all"
    mapping: MappingMode = "search"
    objective: Objective = "energy"
    device: Device = "cpu"
    stream: bool = True

    @field_validator("models")
    @classmethod
    def _models(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return check_distinct("models", v)

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        resolve_device(v)
        return v

    def evaluate_config(
        self,
        model: str,
        profile: str,
        *,
        schemes: tuple[str, ...] = SCHEMES,
        accelerators: tuple[str, ...] = DESIGNS,
        assumptions: dict | None = None,
    ) -> EvaluateConfig:
        return EvaluateConfig(
            model=model,
            schemes=schemes,
            profile=profile,
            assumptions=assumptions or {},
            accelerators=accelerators,
            tokens=self.tokens,
            calib_tokens=self.calib_tokens,
            seqlen=self.seqlen,
            batch_size=self.batch_size,
            mapping=self.mapping,
            objective=self.objective,
            device=self.device,
            stream=self.stream,
        )


# --------------------------------------------------------------------------- claims


def _ratio(ours: float | None, paper_value: float) -> float | None:
    return None if ours is None or paper_value == 0 else ours / paper_value


def _accuracy(res: Results) -> tuple[str, float | None]:
    metric = next(iter(res.fp32))
    main = next((s for s in res.schemes if s.scheme == "dbs"), None)
    return metric, None if main is None else main.metrics[metric]


def _explanation(
    claim: Claim, row_model: str, paper_ours: float | None, sensitivity: list[SensitivityRow], mapping: str
) -> str | None:
    """For a claim whose metric the sensitivity table varies and whose ``paper`` profile number is
    off by more than 25%: which single assumption values bring it within 25% of the paper's (of the
    assumptions varied around the run's ``mapping``: another base would mix two changes)."""
    metric = SENSITIVITY_METRICS.get((claim.metric, tuple(claim.args.get("designs", ()))))
    if metric is None or paper_ours is None or abs(paper_ours / claim.paper - 1) <= MATCH:
        return None
    points = [
        r for r in sensitivity if r.model == row_model and r.metric == metric and not r.base and r.mapping == mapping
    ]
    if not points:
        return None
    close = [r for r in points if abs(r.ours / claim.paper - 1) <= MATCH]
    if close:
        return "; ".join(f"{r.assumption} = {r.value}: {r.ours:.2f}" for r in close)
    best = min(points, key=lambda r: abs(r.ours / claim.paper - 1))
    return f"no single assumption (closest: {best.assumption} = {best.value}: {best.ours:.2f})"


def claim_rows(
    results: dict[str, dict[str, Results]],
    sweep: dict[str, float],
    sensitivity: list[SensitivityRow],
    mapping: MappingMode = "search",
) -> tuple[list[ClaimRow], list[dict[str, str]]]:
    """Every claim that applies to the models of ``results`` (model name -> profile -> results),
    and those that do not (claim, why); ``mapping``: the run's."""
    doc = paper()
    ours_models = [(n, str(r[PROFILES[0]].model["kind"]), _parameters(r[PROFILES[0]])) for n, r in results.items()]
    rows, skipped = [], []
    for c in doc.claims:
        if c.model == SYNTHETIC:
            value = SWEEP_METRICS[c.metric](sweep, **c.args)
            by_profile = {p: value for p in PROFILES}  # synthetic masks: no profile changes them
            accuracy, metric, model, paper_model = {}, None, "synthetic (Fig. 13 sweep)", "synthetic"
        else:
            paper_model = NOT_STATED if c.model == NO_MODEL else doc.models[c.model].label
            model = ours_models[0][0] if c.model == NO_MODEL else nearest_model(doc.models[c.model], ours_models)
            if model is None:
                kinds = " or ".join(doc.models[c.model].kinds)
                skipped.append({"claim": f"{c.id}: {c.claim} ({paper_model})", "why": f"no {kinds} model in this run"})
                continue
            by_profile = {p: MODEL_METRICS[c.metric](results[model][p], **c.args) for p in PROFILES}
            accuracy = {}
            for p in PROFILES:
                metric, accuracy[p] = _accuracy(results[model][p])
        ratio = {p: _ratio(v, c.paper) for p, v in by_profile.items()}
        rows.append(
            ClaimRow(
                id=c.id,
                claim=c.claim,
                where=c.where,
                quote=c.quote,
                unit=c.unit,
                paper=c.paper,
                paper_model=paper_model,
                model=model,
                ours=by_profile,
                ratio=ratio,
                within={p: None if r is None else abs(r - 1) <= MATCH for p, r in ratio.items()},
                accuracy=accuracy,
                accuracy_metric=metric,
                rests_on=list(c.rests_on),
                explained_by=_explanation(c, model, by_profile[PROFILES[0]], sensitivity, mapping),
            )
        )
    skipped += [{"claim": n.claim, "why": n.why} for n in doc.not_computed]
    return rows, skipped


def _parameters(res: Results) -> int:
    value = res.model.get("parameters")
    if not isinstance(value, int):
        raise ValueError(f"results of {res.model['name']} do not record the parameter count: run it again")
    return value


# --------------------------------------------------------------------------- sensitivity


def sensitivity_rows(
    model: str,
    base: SchemeRuns,
    rerun: Callable[[dict], SchemeRuns] | None,
    progress: Progress | None = None,
    *,
    mapping: MappingMode = "search",
    objective: Objective = "energy",
) -> list[SensitivityRow]:
    """Every assumption of :func:`shipped_assumptions` at each value, on ``base`` (the ``paper``
    profile's runs of ``model``); ``rerun(calibration changes)`` runs the schemes again (None:
    values that change calibration are left out); ``mapping``: the run's (an assumption may set
    its own, for its base and values)."""
    metric = next(iter(base.fp32))
    bases: dict[str, dict[str, float]] = {}

    def compare(captures, variation: Variation, assumption: Assumption) -> dict[str, float]:
        return comparison(captures, variation, mapping=assumption.mapping_of(mapping), objective=objective)

    def base_of(assumption: Assumption) -> dict[str, float]:  # one base per mapping the assumptions run
        key = assumption.mapping_of(mapping)
        if key not in bases:
            bases[key] = compare(base.captures, BASE, assumption)
        return bases[key]

    base_accuracy = base.records["dbs"].metrics[metric]
    out: list[SensitivityRow] = []

    def add(assumption: Assumption, value: str, is_base: bool, metrics: dict[str, float], accuracy: float) -> None:
        for name in METRICS:
            change = metrics[name] / base_of(assumption)[name] - 1
            out.append(
                SensitivityRow(
                    mapping=assumption.mapping_of(mapping),
                    assumption=assumption.name,
                    value=value,
                    base=is_base,
                    metric=name,
                    model=model,
                    ours=metrics[name],
                    change=change,
                    accuracy=accuracy,
                    accuracy_metric=metric,
                )
            )

    assumptions = shipped_assumptions()
    todo = {a.name: [v for v in a.values_around(mapping) if rerun is not None or not v.reruns] for a in assumptions}
    total, done = sum(map(len, todo.values())), 0
    for a in assumptions:
        add(a, a.base_label(mapping), True, base_of(a), base_accuracy)
        for v in todo[a.name]:
            runs = rerun(v.calibration) if v.reruns else base
            add(a, v.label, False, compare(runs.captures, v, a), runs.records["dbs"].metrics[metric])
            done += 1
            if progress:
                progress("sensitivity", done, total)
    return out


# --------------------------------------------------------------------------- the whole run


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", Path(name).name).strip("-.") or "model"


def reproduce(
    config: ReproduceConfig, out: str | Path, *, resume: bool = False, progress: Progress | None = None
) -> Reproduction:
    """Run everything of the module docstring; writes ``OUT/reproduce.json`` and the rest."""

    started = time.perf_counter()
    paper(), shipped_assumptions()  # the shipped data, validated before anything runs
    out = check_output(Path(out))
    cache = Cache(out / "cache", resume)
    remove_orphans(out)
    results: dict[str, dict[str, Results]] = {}
    sensitivity: list[SensitivityRow] = []
    dirs: dict[str, str] = {}
    for model in config.models:
        lm: LoadedModel = load_model(model, stream=config.stream)
        slug = _slug(lm.name)
        if slug in dirs.values():
            slug = f"{slug}-{len(dirs)}"
        dirs[lm.name] = slug
        results[lm.name] = {}
        runs: dict[str, SchemeRuns] = {}
        for profile in PROFILES:
            target = out / slug / profile
            res, runs[profile] = evaluate_runs(
                config.evaluate_config(model, profile), target, cache=cache, lm=lm, progress=progress
            )
            render(res, target)
            results[lm.name][profile] = res
        if config.sensitivity != "none":

            def rerun(calibration: dict, model=model, lm=lm) -> SchemeRuns:
                changed = config.evaluate_config(
                    model,
                    PROFILES[0],
                    schemes=COMPARED_SCHEMES,
                    accelerators=COMPARED,
                    assumptions=calibration,
                )
                return run_schemes(changed.model_run(), cache, lm=lm, progress=progress)

            sensitivity += sensitivity_rows(
                lm.name,
                runs[PROFILES[0]],
                rerun if config.sensitivity == "all" else None,
                progress,
                mapping=config.mapping,
                objective=config.objective,
            )

    sweep = sparsity_sweep(  # Fig. 13 plots throughput: its mappings minimise latency
        progress=stage_progress(progress, "sweep"), mapping=config.mapping
    )
    write_csv(sweep, out / "sweep.csv")
    plot_sweep(sweep, out / "sweep.png")
    rows, skipped = claim_rows(results, summary(sweep), sensitivity, config.mapping)
    models = [{**by[PROFILES[0]].model, "directory": dirs[name]} for name, by in results.items()]
    repro = Reproduction(
        panacea_version=panacea.__version__,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        config=config.model_dump(mode="json"),
        models=models,
        rows=rows,
        sensitivity=sensitivity,
        not_computed=skipped,
        seconds={"total": time.perf_counter() - started},
    )
    repro.save(out)
    render_reproduction(repro, out)
    return repro


__all__ = [
    "DESIGNS",
    "PROFILES",
    "SCHEMES",
    "ClaimRow",
    "ReproduceConfig",
    "Reproduction",
    "SensitivityRow",
    "claim_rows",
    "reproduce",
    "sensitivity_rows",
]
