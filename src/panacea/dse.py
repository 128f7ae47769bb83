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

import csv
import hashlib
import io
import itertools
import json
import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

import panacea.hw as hw
from panacea._checks import parse_toml, validated
from panacea._io import atomic_write, read_text
from panacea.hw.spec import ArchSpecModel, spec_with

Objective = Literal["tops", "tops_per_watt", "tops_per_mm2", "energy", "area"]
MAXIMISE: dict[str, bool] = {"tops": True, "tops_per_watt": True, "tops_per_mm2": True, "energy": False, "area": False}
Value = bool | int | float
MAX_EXHAUSTIVE = 4096  # points costed one by one without a search (panacea dse --trials)


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
    keys = list(space.vary)
    for index, values in enumerate(itertools.product(*(space.vary[k] for k in keys))):
        yield point(space, index, dict(zip(keys, values, strict=True)))


def point(space: Space, index: int, changes: dict[str, Value]) -> Point:
    """The point of ``changes`` (``index``: its place among every combination)."""
    base = space.base_spec()
    try:
        spec = spec_with(base, changes, name=f"{base.name} #{index}")
    except ValueError as err:
        return Point(index, changes, None, str(err))
    reason = _broken_constraint(spec, base, space.constraints)
    return Point(index, changes, None if reason else spec, reason)


def point_index(space: Space, changes: dict[str, Value]) -> int:
    """The place of ``changes`` among every combination (row-major over ``space.vary``)."""
    index = 0
    for key, values in space.vary.items():
        index = index * len(values) + next(i for i, v in enumerate(values) if repr(v) == repr(changes[key]))
    return index


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


# --------------------------------------------------------------------------- running a space


def point_key(spec: ArchSpecModel, workloads_key: str) -> str:
    """What a finished point is stored under: its spec (less its name) and the workloads."""
    data = spec.model_dump(mode="json")
    data.pop("name")
    text = json.dumps(data, sort_keys=True) + workloads_key
    return hashlib.sha256(text.encode()).hexdigest()[:24]


_WORKLOADS: list = []  # a worker's copy of the workloads, sent once per worker (initializer)


def _init_worker(workloads: list) -> None:
    _WORKLOADS[:] = workloads


def _evaluate_in_worker(spec: ArchSpecModel) -> dict[str, float]:
    return evaluate(spec, _WORKLOADS)


class LocalExecutor:
    """A process pool of ``jobs`` workers (``jobs = 1``: in this process); the workloads travel to
    each worker once, when it starts, not with every point."""

    def __init__(self, jobs: int = 1):
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.jobs = jobs

    def map(self, specs: Sequence[ArchSpecModel], workloads: list) -> Iterator[tuple[int, dict[str, float]]]:
        """``(index into specs, metrics)`` as each point finishes."""
        if self.jobs == 1:
            for i, spec in enumerate(specs):
                yield i, evaluate(spec, workloads)
            return
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(self.jobs, mp_context=ctx, initializer=_init_worker, initargs=(workloads,)) as pool:
            futures = {pool.submit(_evaluate_in_worker, spec): i for i, spec in enumerate(specs)}
            for future in as_completed(futures):
                yield futures[future], future.result()


def _evaluate_remote(spec: ArchSpecModel, workloads: list) -> dict[str, float]:
    return evaluate(spec, workloads)


class RayExecutor:
    """Points as Ray tasks: on the cluster at ``address``, or on a local Ray instance of ``jobs``
    CPUs started (and stopped) here. The workloads go to Ray's object store once."""

    def __init__(self, address: str | None = None, jobs: int | None = None):
        self.address, self.jobs = address, jobs

    def map(self, specs: Sequence[ArchSpecModel], workloads: list) -> Iterator[tuple[int, dict[str, float]]]:
        import ray

        started = not ray.is_initialized()
        if started:
            local = {"num_cpus": self.jobs} if self.address is None else {}
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False, **local)
        try:
            shared = ray.put(workloads)
            task = ray.remote(_evaluate_remote)
            pending = {task.remote(spec, shared): i for i, spec in enumerate(specs)}
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    yield pending.pop(ref), ray.get(ref)
        finally:
            if started:
                ray.shutdown()


Executor = LocalExecutor | RayExecutor


def run_space(
    space: Space,
    workloads: list,
    store: Path,
    *,
    workloads_key: str,
    executor: Executor | None = None,
    trials: int | None = None,
    seed: int = 0,
) -> list[dict]:
    """The points of ``space`` costed on ``workloads``: every combination, or (``trials``) those
    an NSGA-II search (Optuna) visits in that many trials. Each costed point is stored in ``store``
    as it finishes (``<key>.json``, written atomically) and re-used when a later run finds it.
    Rows in point order, with the Pareto front marked (``pareto``)."""
    store.mkdir(parents=True, exist_ok=True)
    executor = executor or LocalExecutor()

    def cost(batch: list[Point]) -> dict[int, dict[str, float]]:
        files = {p.index: store / f"{point_key(p.spec, workloads_key)}.json" for p in batch if p.spec is not None}
        todo = [p for p in batch if p.index in files and not files[p.index].exists()]
        for i, result in executor.map([p.spec for p in todo], workloads):
            atomic_write(files[todo[i].index], json.dumps(result).encode())
        return {i: json.loads(f.read_text()) for i, f in files.items()}

    if trials is None:
        visited = list(points(space))
        results = cost(visited)
    else:
        visited, results = _nsga2(space, cost, trials, seed, batch=max(1, getattr(executor, "jobs", None) or 1))
    rows = [{"index": p.index, **p.changes, "reason": p.reason, **results.get(p.index, {})} for p in visited]
    costed = [r for r in rows if not r["reason"]]
    front = set(pareto_front(costed, space.objectives))
    for i, row in enumerate(costed):
        row["pareto"] = i in front
    return rows


def _nsga2(space: Space, cost, trials: int, seed: int, batch: int) -> tuple[list[Point], dict[int, dict]]:
    """``trials`` trials of Optuna's NSGA-II over ``space``, asked ``batch`` at a time (evaluated
    together); a point out of the space's constraints is a failed trial."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    directions = ["maximize" if MAXIMISE[o] else "minimize" for o in space.objectives]
    study = optuna.create_study(directions=directions, sampler=optuna.samplers.NSGAIISampler(seed=seed))
    dists = {k: optuna.distributions.CategoricalDistribution(v) for k, v in space.vary.items()}
    seen: dict[int, Point] = {}
    results: dict[int, dict] = {}
    for start in range(0, trials, batch):
        asked = [study.ask(dists) for _ in range(min(batch, trials - start))]
        pts = []
        for trial in asked:
            changes = {k: trial.params[k] for k in space.vary}
            index = point_index(space, changes)
            pts.append(seen.setdefault(index, point(space, index, changes)))
        results |= cost(list({p.index: p for p in pts if p.index not in results}.values()))
        for trial, p in zip(asked, pts, strict=True):
            if p.index in results:
                study.tell(trial, [results[p.index][o] for o in space.objectives])
            else:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
    return sorted(seen.values(), key=lambda p: p.index), results


# --------------------------------------------------------------------------- a model's space

SCHEME_OF_KIND = {"panacea": "dbs", "sibia": "sym", "systolic": "dbs", "simd": "dbs", "bitserial": "aq"}


def explore(
    space: Space, config, out: Path, *, executor: Executor | None = None, trials: int | None = None, progress=None
) -> list[dict]:
    """``space`` on the workloads of ``config``'s model (an :class:`~panacea.evaluate.EvaluateConfig`;
    its scheme is the one the base design's kind runs, captured once and cached in ``out/cache``
    as ``panacea evaluate`` caches it). Writes ``points.csv`` (every point, the reason for those not
    costed), ``front.csv``, ``pareto.png`` (the first two objectives, the base design marked) and
    ``front/<name>.toml``, a spec per Pareto design that ``panacea evaluate --accelerators`` takes."""
    from panacea.evaluate import Cache, run_schemes

    scheme = SCHEME_OF_KIND[space.base_spec().kind]
    config = config.model_copy(update={"schemes": (scheme,)})
    runs = run_schemes(config, Cache(out / "cache", resume=True), progress=progress)
    workloads = runs.captures[scheme]["main"]
    key = hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:16]
    rows = run_space(space, workloads, out / "points", workloads_key=key, executor=executor, trials=trials)
    base = evaluate(space.base_spec(), workloads)
    _write_csv(out / "points.csv", rows)
    front = [r for r in rows if r.get("pareto")]
    _write_csv(out / "front.csv", front)
    _write_front_specs(space, front, out / "front")
    _plot(rows, base, space, out / "pareto.png")
    return rows


def _write_csv(path: Path, rows: list[dict]) -> None:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, buf.getvalue().encode())


def _write_front_specs(space: Space, front: list[dict], folder: Path) -> None:
    import tomli_w

    folder.mkdir(parents=True, exist_ok=True)
    base = space.base_spec()
    for row in front:
        name = f"{base.name} dse {row['index']}"
        spec = spec_with(base, {k: row[k] for k in space.vary}, name=name)
        text = tomli_w.dumps(spec.model_dump(mode="json", exclude_none=True))
        atomic_write(folder / f"{base.kind}-{row['index']}.toml", text.encode())


def _plot(rows: list[dict], base: dict[str, float], space: Space, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = space.objectives[0]  # against the second objective, or against area (tops for an area one)
    y = space.objectives[1] if len(space.objectives) > 1 else ("tops" if x == "area" else "area")
    costed = [r for r in rows if not r["reason"]]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter([r[x] for r in costed], [r[y] for r in costed], s=14, color="0.6", label="design points")
    front = sorted((r for r in costed if r["pareto"]), key=lambda r: r[x])
    ax.plot([r[x] for r in front], [r[y] for r in front], "o-", color="C0", label="Pareto front")
    ax.scatter([base[x]], [base[y]], marker="*", s=160, color="C3", zorder=3, label=f"shipped {space.base}")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    atomic_write(path, buf.getvalue())
