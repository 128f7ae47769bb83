"""Interrupting `panacea evaluate` (SIGINT, SIGTERM, SIGKILL) at named points of a real run in a
subprocess: nothing partial or temporary is left in the output directory, an interrupt ends in one
line, and `--resume` completes with the results of an uninterrupted run.

The run pauses at each point (``interrupt_driver.py``) and the signal comes from outside, as a
user's Ctrl-C or a scheduler's kill would. SIGKILL cannot be handled: it may leave the temporary
file being written (never a partial file under a real name), which the next run removes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tiny_models import save_tiny_llama

from panacea.flows.cache import load_capture
from panacea.quant import QuantRecipe
from panacea.results import Results

DRIVER = Path(__file__).with_name("interrupt_driver.py")
# gensim's news text: parsing the default Wikipedia dump would take 4 s of every run
ARGS = ["--tokens", "64", "--calib-tokens", "64", "--seqlen", "32", "--batch-size", "2", "--data", "news"]
ARGS += ["--schemes", "sym,dbs,aq"]
OUTPUTS = ("layers.csv", "layer_costs.csv", "fig14_vector_sparsity.png", "fig15_energy_breakdown.png")


def _evaluate(model: str, out: Path, point: str = "none", *extra: str) -> subprocess.Popen:
    ready = out.parent / f"{out.name}.ready"
    ready.unlink(missing_ok=True)
    cmd = [sys.executable, str(DRIVER), point, str(ready), model, *ARGS, "--out", str(out), *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if point != "none":
        while not ready.exists():  # the run reached the point and waits there for the signal
            if proc.poll() is not None:
                pytest.fail(f"the run ended before reaching {point}: {proc.communicate()}")
            time.sleep(0.05)
    return proc


def _finished(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate()
    return proc.returncode, out, err


def _comparable(out: Path) -> dict:
    """What an uninterrupted run and a resumed one must share: every result but the clock (the
    integer back end's probe times among it)."""
    res = Results.load(out)
    clock = {"created": True, "seconds": True, "intmm": True, "schemes": {"__all__": {"cached", "seconds"}}}
    doc = res.model_dump(exclude=clock)
    files = {name: (out / name).read_bytes() for name in OUTPUTS}
    files["report.md"] = (out / "report.md").read_text().replace(res.created, "")
    return {"results": doc, "files": files}


def _temporaries(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.name.endswith(".tmp"))


def _assert_whole(out: Path) -> None:
    """Every file under its real name is complete: each loads and validates."""
    if (out / "results.json").exists():
        Results.load(out)
    for entry in (out / "cache").glob("*") if (out / "cache").is_dir() else ():
        if (entry / "recipe.json").exists():
            QuantRecipe.load(entry)
        if (entry / "capture.safetensors").exists():
            load_capture(entry / "capture.safetensors")


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str:
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="module")
def reference(model, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("reference") / "out"
    code, _, stderr = _finished(_evaluate(model, out))
    assert code == 0, stderr
    return _comparable(out)


POINTS = ("calibration", "recipe", "capture", "results", "report")
CASES = [
    *((signal.SIGINT, p) for p in POINTS),
    (signal.SIGTERM, "capture"),
    *((signal.SIGKILL, p) for p in ("calibration", "recipe", "capture", "report")),
]


@pytest.mark.slow
@pytest.mark.parametrize("sig, point", CASES, ids=[f"{s.name}-{p}" for s, p in CASES])
def test_an_interrupted_run_leaves_nothing_partial_and_resumes_to_the_same_results(
    sig, point, model, reference, tmp_path
):
    out = tmp_path / "out"
    proc = _evaluate(model, out, point)
    os.kill(proc.pid, sig)
    code, stdout, stderr = _finished(proc)
    if sig == signal.SIGKILL:
        assert code == -signal.SIGKILL
        # Killed mid-write, the temporary file of the write in progress may stay; nothing else does.
        assert len(_temporaries(out)) <= (point != "calibration")
    else:
        assert code == (143 if sig == signal.SIGTERM else 130), stderr
        assert stderr.startswith("interrupted: ") and stderr.count("\n") == 1, stderr
        assert "Traceback" not in stdout + stderr
        assert _temporaries(out) == []
    _assert_whole(out)
    assert not (out / "results.json").exists() or point == "report"  # written only when all is done

    code, _, stderr = _finished(_evaluate(model, out, "none", "--resume"))
    assert code == 0, stderr
    assert _temporaries(out) == []  # a killed writer's leftovers are removed by the next run
    assert _comparable(out) == reference
    if point in ("results", "report"):  # every scheme had finished before the interrupt
        assert all(s.cached for s in Results.load(out).schemes)
