"""The evaluate benchmark (benchmarks/bench_evaluate.py) measures what it says: one real run of a tiny
Llama on the forced back end, each stage's ratio the median of its ratios to the FP32 scoring of the
same run, the goal column's verdict from that ratio and the stated goal, the runs interleaved, and
the CPU's flags printed with the figures."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import pytest
from tiny_models import save_tiny_llama

from panacea.core.intmm_choice import cpu_features

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_evaluate.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_evaluate", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_once_times_every_stage_on_the_forced_back_end(bench, tmp_path):
    model = save_tiny_llama(tmp_path / "tiny")
    extra = ["--tokens", "64", "--calib-tokens", "64", "--seqlen", "32", "--batch-size", "2"]
    run = bench.run_once(model, "float32", extra)
    assert run["backend"] == "float32"
    stages = [s for s in run if s != "backend"]
    assert stages[:2] == ["fp32", "calibration"] and stages[-2:] == ["total", "process"]
    assert {"run_dbs", "cost_models"} <= set(stages)
    assert run["process"] > run["total"] > run["fp32"] > 0  # the command's wall time holds the evaluate's
    assert run["total"] >= sum(run[s] for s in stages if s not in ("total", "process"))  # stages within the whole
    with pytest.raises(RuntimeError, match=r"evaluate .* failed"):
        bench.run_once(str(tmp_path / "missing"), "auto", extra)


def test_a_stage_ratio_is_the_median_of_its_ratios_to_the_same_runs_fp32(bench):
    runs = [
        {"fp32": 1.0, "calibration": 3.0, "total": 10.0, "backend": "int8"},
        {"fp32": 2.0, "calibration": 3.0, "total": 30.0, "backend": "int8"},
        {"fp32": 4.0, "calibration": 4.0, "total": 40.0, "backend": "int8"},
    ]
    rows = {r["stage"]: r for r in bench.summarize(runs)}
    assert list(rows) == ["fp32", "calibration", "total"]
    assert rows["fp32"] == {"stage": "fp32", "seconds": 2.0, "ratio": 1.0}
    # ratios 3, 1.5, 1: median 1.5 (the ratio of the medians, 3 / 2, would be another number)
    assert rows["calibration"] == {"stage": "calibration", "seconds": 3.0, "ratio": 1.5}
    assert rows["total"] == {"stage": "total", "seconds": 30.0, "ratio": 10.0}


def test_the_goals_are_the_stated_ones(bench):
    assert bench.goal_of("run_aq") == bench.goal_of("run_zpm") == 2.0 and bench.goal_of("calibration") == 2.0
    assert bench.goal_of("cost_models") == 1.0 and bench.goal_of("total") == 15.0
    assert bench.goal_of("fp32") is None and bench.goal_of("process") is None


RUN = {"fp32": 2.0, "calibration": 4.0, "run_asym": 4.2, "cost_models": 1.0, "total": 30.0, "process": 40.0}


def test_main_interleaves_the_runs_and_marks_each_stage_against_its_goal(bench, monkeypatch, capsys, tmp_path):
    calls = []

    def run_once(model, backend, extra):
        calls.append((model, backend))
        return {**RUN, "backend": "int8" if backend == "auto" else backend}

    monkeypatch.setattr(bench, "run_once", run_once)
    monkeypatch.setenv("COLUMNS", "200")
    argv = ["--models", "a,b", "--backends", "auto,float32", "--repeats", "2", "--csv", str(tmp_path / "e.csv")]
    monkeypatch.setattr(sys, "argv", ["bench_evaluate.py", *argv])
    bench.main()
    assert calls == [("a", "auto"), ("a", "float32"), ("b", "auto"), ("b", "float32")] * 2
    out = capsys.readouterr().out
    assert f"{cpu_features()}, " in out and "panacea evaluate MODEL --tokens 512 --calib-tokens 512" in out
    assert "a, integer GEMMs: int8 (chosen)" in out and "b, integer GEMMs: float32 (forced)" in out
    table = [[c.strip() for c in line.strip("│").split("│")] for line in out.splitlines() if line.startswith("│")]
    cells = {stage: rest for stage, *rest in table}  # stage -> seconds, x FP32 scoring, goal
    assert cells["fp32"] == ["2.0", "1.00", ""]  # the baseline: no goal
    assert cells["calibration"] == ["4.0", "2.00", "2 ok"]  # at the goal: met
    assert cells["run_asym"] == ["4.2", "2.10", "2 over"]
    assert cells["cost_models"] == ["1.0", "0.50", "1 ok"]
    assert cells["total"] == ["30.0", "15.00", "15 ok"]
    assert cells["process"] == ["40.0", "20.00", ""]
    with open(tmp_path / "e.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 * len(RUN) and {r["cpu"] for r in rows} == {cpu_features()}
    assert {(r["model"], r["backend"], r["forced"]) for r in rows} == {
        ("a", "int8", "False"),
        ("a", "float32", "True"),
        ("b", "int8", "False"),
        ("b", "float32", "True"),
    }


def test_an_unknown_back_end_is_refused(bench, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["bench_evaluate.py", "--backends", "auto,int4"])
    with pytest.raises(SystemExit):
        bench.main()
    assert (
        "--backends: each must be auto or one of ['int8', 'float32', 'float64'], got 'int4'" in capsys.readouterr().err
    )
