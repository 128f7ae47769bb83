"""The environment `make test` runs in is exactly requirements.lock: every locked package at its
locked version and nothing else (but this project and the installer's own tools)."""

from __future__ import annotations

import importlib.metadata
import os
import re
import site
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = {"pip", "uv", "panacea"}  # the venv's installer, uv (pinned in the Makefile), this project


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()  # PEP 503 normalisation


def _locked(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep and version, f"{path}: not an exact pin: {line!r}"
            pins[_name(name)] = version
    return pins


def _lock_path() -> Path:
    """The lock this environment was built from: PANACEA_LOCK (`make lock`), or the repository's
    for the environment `make` builds; other environments (the package installed by hand into
    one's own) have nothing to be compared with."""
    if "PANACEA_LOCK" in os.environ:
        return Path(os.environ["PANACEA_LOCK"])
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.skip(f"not the environment `make` builds ({ROOT / '.venv'}): nothing to compare with")
    return ROOT / "requirements.lock"


def test_installed_versions_equal_the_lock():
    locked = _locked(_lock_path())
    # what is installed in the environment's site-packages: `import ray` (another test may have
    # run it) puts Ray's vendored copies (ray/thirdparty_files: colorama, psutil) on sys.path
    dists = importlib.metadata.distributions(path=site.getsitepackages())
    installed = {_name(d.metadata["Name"]): d.version for d in dists}
    wrong = {n: (v, installed.get(n)) for n, v in locked.items() if installed.get(n) != v}
    assert not wrong, f"locked version != installed (locked, installed): {wrong}"
    extra = sorted(set(installed) - set(locked) - TOOLS)
    assert not extra, f"installed but not locked: {extra}"
    assert "torch" in locked and "panacea" in installed
