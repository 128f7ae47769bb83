"""Design-space exploration (``panacea dse``): a space of spec variants as validated data, the
points it holds under its constraints, their cost on a model's workloads (on an executor of
:mod:`panacea.flows.executors`, each point stored as it finishes), and the Pareto front over the space's
objectives.

A space (TOML, :class:`Space`) names a ``base`` design (shipped name or spec file), the spec fields
to ``vary`` (``"core.dwo_per_pea"``, ``"memory.wmem_kb"``, ``"clock_mhz"``: each a list of values
or a ``{start, stop, step}`` range), named ``variants`` (alternatives that change several fields
together), ``constraints`` (equal 4b x 4b multipliers to the base, an area or SRAM budget),
``objectives`` (``tops``, ``tops_per_watt``, ``tops_per_mm2`` to maximise; ``energy``, ``area`` to
minimise) and the designs to ``marks`` beside it. The points are every combination; each is a spec
validated like a spec file, and one that is not valid or breaks a constraint is kept with the
reason, not costed.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path

import panacea
import panacea.hw as hw
from panacea.core.files import atomic_write, write_csv
from panacea.flows.cache import Cache
from panacea.flows.dse.space import (
    MAX_EXHAUSTIVE,
    MAXIMISE,
    Point,
    Space,
    load_space,
    point,
    point_index,
    points,
)
from panacea.flows.executors import Executor, LocalExecutor
from panacea.flows.pipeline import run_schemes
from panacea.hw.spec import ArchSpecModel, spec_with
from panacea.schemes import SCHEME_OF_KIND
from panacea.workload.build import with_index_bits

__all__ = [
    "MAXIMISE",
    "MAX_EXHAUSTIVE",
    "Point",
    "Space",
    "design_metrics",
    "explore",
    "load_space",
    "pareto_front",
    "point",
    "point_index",
    "points",
    "run_space",
    "workloads_for",
]

POINTS_PER_TASK = 8  # at most, costed together by one worker and stored when they finish


def metrics(cost: hw.Cost) -> dict[str, float]:
    """Every objective's value of a design's cost on a model's workloads."""
    return {
        "tops": cost.tops,
        "tops_per_watt": cost.tops_per_watt,
        "tops_per_mm2": cost.tops_per_mm2,
        "energy": cost.energy_j,
        "area": cost.total_area_mm2,
    }


Captures = dict[int | None, list]  # a model's workloads by the slice-vector length they were captured with


def by_vector(workloads: Sequence) -> Captures:
    """One capture's workloads keyed by their slice-vector length (None: AQ workloads have none)."""
    return {getattr(workloads[0], "vector", None): list(workloads)}


def workloads_for(spec: ArchSpecModel, captures: Captures) -> list:
    """The workloads ``spec`` runs: those captured with its slice-vector length (a dense design:
    the first capture's), their RLE indices re-derived for its index width (exact:
    :func:`~panacea.workload.build.with_index_bits`)."""
    core = spec.core
    vector = getattr(core, "vector", None)
    if vector is None:  # a design without slice vectors: the first (the base's) capture
        workloads = next(iter(captures.values()))
    elif vector in captures:
        workloads = captures[vector]
    else:
        raise ValueError(f"{spec.name}: no workloads captured with core.vector = {vector}")
    index_bits = getattr(core, "index_bits", None)
    if index_bits is not None and workloads[0].index_bits != index_bits:
        workloads = [with_index_bits(w, index_bits) for w in workloads]
    return workloads


def design_metrics(spec: ArchSpecModel, workloads: Sequence | Captures) -> dict[str, float]:
    """``spec`` on ``workloads`` (one capture's, or :data:`Captures`), each GEMM on its searched
    mapping."""
    return _metrics_batch(workloads if isinstance(workloads, dict) else by_vector(workloads), [spec])[0]


def _metrics_batch(captures: Captures, specs: Sequence[ArchSpecModel]) -> list[dict[str, float]]:
    """:func:`design_metrics` of each spec; the specs that run the same workloads are costed workload
    by workload across them (they share its slice tiles: :func:`~panacea.hw.model.run_together`)."""
    groups: dict[tuple, list[int]] = {}
    for i, spec in enumerate(specs):
        groups.setdefault((getattr(spec.core, "vector", None), getattr(spec.core, "index_bits", None)), []).append(i)
    out: list[dict[str, float]] = [{}] * len(specs)
    for members in groups.values():
        workloads = workloads_for(specs[members[0]], captures)
        costs = hw.run_together([hw.model_for(specs[i]) for i in members], workloads)
        for i, cost in zip(members, costs, strict=True):
            out[i] = metrics(cost)
    return out


def pareto_front(rows: Sequence[dict[str, float]], objectives: Sequence[str]) -> list[int]:
    """Indices of the rows no other row dominates (at least as good in every objective and better
    in one), in their order."""
    signed = [[r[o] if MAXIMISE[o] else -r[o] for o in objectives] for r in rows]

    def dominates(a: list[float], b: list[float]) -> bool:
        return all(x >= y for x, y in zip(a, b, strict=True)) and any(x > y for x, y in zip(a, b, strict=True))

    return [i for i, a in enumerate(signed) if not any(dominates(b, a) for b in signed)]


# --------------------------------------------------------------------------- running a space


def point_key(spec: ArchSpecModel, workloads_key: str) -> str:
    """What a finished point is stored under: its spec (less its name), the workloads and the
    package version (another release costs it again)."""
    data = spec.model_dump(mode="json")
    data.pop("name")
    text = json.dumps(data, sort_keys=True) + workloads_key + panacea.__version__
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def run_space(
    space: Space,
    workloads: list | Captures,
    store: Path,
    *,
    workloads_key: str,
    executor: Executor | None = None,
    trials: int | None = None,
    seed: int = 0,
) -> list[dict]:
    """The points of ``space`` costed on ``workloads`` (one capture's, or :data:`Captures`: each
    point runs those of its slice-vector length): every combination, or (``trials``) those
    an NSGA-II search (Optuna) visits in that many trials. Each costed point is stored in ``store``
    as it finishes (``<key>.json``, written atomically) and re-used when a later run finds it.
    Rows in point order, with the Pareto front marked (``pareto``)."""
    store.mkdir(parents=True, exist_ok=True)
    executor = executor or LocalExecutor()
    captures = workloads if isinstance(workloads, dict) else by_vector(workloads)

    def cost(batch: list[Point]) -> dict[int, dict[str, float]]:
        files = {p.index: store / f"{point_key(p.spec, workloads_key)}.json" for p in batch if p.spec is not None}
        todo = [p for p in batch if p.index in files and not files[p.index].exists()]
        # a task costs a few points together (they share slice tiles), spread over the workers
        size = max(1, min(POINTS_PER_TASK, math.ceil(len(todo) / _workers(executor))))
        tasks = [todo[i : i + size] for i in range(0, len(todo), size)]
        for i, results in executor.map(_metrics_batch, [[p.spec for p in t] for t in tasks], captures):
            for p, result in zip(tasks[i], results, strict=True):
                atomic_write(files[p.index], json.dumps(result).encode())
        return {i: json.loads(f.read_text()) for i, f in files.items()}

    if trials is None:
        visited = list(points(space))
        results = cost(visited)
    else:
        visited, results = _nsga2(space, cost, trials, seed, batch=_workers(executor))
    rows = [{"index": p.index, **p.changes, "reason": p.reason, **results.get(p.index, {})} for p in visited]
    costed = [r for r in rows if not r["reason"]]
    front = set(pareto_front(costed, space.objectives))
    for i, row in enumerate(costed):
        row["pareto"] = i in front
    return rows


def _workers(executor: Executor) -> int:
    return executor.jobs or 1  # Ray on a cluster: --jobs says how many points to keep in flight


def _nsga2(space: Space, cost, trials: int, seed: int, batch: int) -> tuple[list[Point], dict[int, dict]]:
    """``trials`` trials of Optuna's NSGA-II over ``space``, asked ``batch`` at a time (evaluated
    together); a point out of the space's constraints is a failed trial."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    directions = ["maximize" if MAXIMISE[o] else "minimize" for o in space.objectives]
    study = optuna.create_study(directions=directions, sampler=optuna.samplers.NSGAIISampler(seed=seed))
    dims, base = space.dimensions, space.base_spec()
    dists = {k: optuna.distributions.CategoricalDistribution(v) for k, v in dims.items()}
    seen: dict[int, Point] = {}
    results: dict[int, dict] = {}
    for start in range(0, trials, batch):
        asked = [study.ask(dists) for _ in range(min(batch, trials - start))]
        pts = []
        for trial in asked:
            changes = {k: trial.params[k] for k in dims}
            index = point_index(space, changes)
            if index not in seen:  # a point asked again is not validated again
                seen[index] = point(space, index, changes, base)
            pts.append(seen[index])
        results |= cost(list({p.index: p for p in pts if p.index not in results}.values()))
        for trial, p in zip(asked, pts, strict=True):
            if p.index in results:
                study.tell(trial, [results[p.index][o] for o in space.objectives])
            else:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
    return sorted(seen.values(), key=lambda p: p.index), results


# --------------------------------------------------------------------------- a model's space


def explore(
    space: Space, config, out: Path, *, executor: Executor | None = None, trials: int | None = None, progress=None
) -> list[dict]:
    """``space`` on the workloads of ``config``'s model (an :class:`~panacea.flows.evaluate.EvaluateConfig`;
    its scheme is the one the base design's kind runs, captured once and cached in ``out/cache``
    as ``panacea evaluate`` caches it, and again with each other slice-vector length the space
    gives ``core.vector``; another RLE index width is re-derived from the captured masks).

    Writes ``points.csv`` and ``points.parquet`` (every point, the reason for those not costed),
    ``front.csv``, ``marks.csv`` (the space's ``marks``, each on its kind's scheme), ``pareto.png``
    (the first two objectives, the marks drawn) and ``front/<kind>-<index>.toml``, a spec per
    Pareto design that ``panacea evaluate --accelerators`` takes."""

    marks = {name: hw.load_spec(name) for name in space.marks}
    scheme = SCHEME_OF_KIND[space.base_spec().kind]
    schemes = tuple(dict.fromkeys([scheme, *(SCHEME_OF_KIND[m.kind] for m in marks.values())]))
    cache = Cache(out / "cache", resume=True)
    runs = run_schemes(config.model_copy(update={"schemes": schemes}).model_run(), cache, progress=progress)
    captures = by_vector(runs.captures[scheme]["main"])
    for vector in sorted(_values(space, "core.vector") - set(captures)):  # calibrated again with it
        again = config.model_copy(
            update={"schemes": (scheme,), "assumptions": {**config.assumptions, "vector": vector}}
        )
        captures |= by_vector(run_schemes(again.model_run(), cache, progress=progress).captures[scheme]["main"])
    key = hashlib.sha256(config.model_copy(update={"schemes": (scheme,)}).model_dump_json().encode()).hexdigest()[:16]
    rows = run_space(space, captures, out / "points", workloads_key=key, executor=executor, trials=trials)
    marked = [
        {
            "design": name,
            "scheme": SCHEME_OF_KIND[m.kind],
            **design_metrics(m, runs.captures[SCHEME_OF_KIND[m.kind]]["main"]),
        }
        for name, m in marks.items()
    ]
    write_csv(out / "points.csv", rows)
    _write_parquet(out / "points.parquet", rows)
    front = [r for r in rows if r.get("pareto")]
    write_csv(out / "front.csv", front)
    write_csv(out / "marks.csv", marked)
    _write_front_specs(space, front, out / "front")
    _plot(rows, marked, space, out / "pareto.png", title=f"{config.model}: {space.base} design space")
    return rows


def _values(space: Space, key: str) -> set:
    """Every value ``space`` gives the spec field ``key`` (varied or set by a variant)."""
    values = set(space.vary.get(key, []))
    return values | {c[key] for alternatives in space.variants.values() for c in alternatives.values() if key in c}


def _write_parquet(path: Path, rows: list[dict]) -> None:
    """``rows`` as one Parquet table (a column per key; empty where a row has none)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = list(dict.fromkeys(k for r in rows for k in r))
    table = pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows])
    buf = pa.BufferOutputStream()
    pq.write_table(table, buf)
    atomic_write(path, buf.getvalue().to_pybytes())


def _write_front_specs(space: Space, front: list[dict], folder: Path) -> None:
    import tomli_w

    folder.mkdir(parents=True, exist_ok=True)
    base = space.base_spec()
    for row in front:
        name = f"{base.name} dse {row['index']}"
        spec = spec_with(base, space.spec_changes(row), name=name)
        text = tomli_w.dumps(spec.model_dump(mode="json", exclude_none=True))
        atomic_write(folder / f"{base.kind}-{row['index']}.toml", text.encode())


def _plot(rows: list[dict], marks: list[dict], space: Space, path: Path, title: str) -> None:
    from panacea.report.plots import pyplot, save_figure

    plt = pyplot()
    x = space.objectives[0]  # against the second objective, or against area (tops for an area one)
    y = space.objectives[1] if len(space.objectives) > 1 else ("tops" if x == "area" else "area")
    costed = [r for r in rows if not r["reason"]]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.scatter([r[x] for r in costed], [r[y] for r in costed], s=14, color="0.6", label="design points")
    front = sorted((r for r in costed if r["pareto"]), key=lambda r: r[x])
    ax.plot([r[x] for r in front], [r[y] for r in front], "o-", color="C0", label="Pareto front")
    for i, m in enumerate(marks):
        ax.scatter(
            [m[x]], [m[y]], marker="*", s=150, color=f"C{i + 1}", zorder=3, label=f"{m['design']} ({m['scheme']})"
        )
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{title}: {len(costed)} designs, {len(front)} on the front", fontsize=9)
    ax.legend(fontsize=7)
    save_figure(fig, path)
