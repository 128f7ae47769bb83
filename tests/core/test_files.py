"""Atomic writes: whole files with ordinary permissions, nothing left behind on failure; the
clean-up of what killed writers left."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys

import pytest

from panacea.core.files import atomic_write, remove_orphans


def test_writes_a_whole_file_with_the_umask_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.bin", b"abc")
    finally:
        os.umask(mask)
    assert (tmp_path / "a.bin").read_bytes() == b"abc"
    assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == 0o644


def _interrupt_rename(real):
    def replace(*_):
        raise KeyboardInterrupt

    return replace


def _interrupt_mid_write(real):
    def write(fd, data):
        real(fd, data[: len(data) // 2])
        raise KeyboardInterrupt

    return write


@pytest.mark.parametrize(("name", "interrupt"), [("replace", _interrupt_rename), ("write", _interrupt_mid_write)])
def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, name, interrupt):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    monkeypatch.setattr(os, name, interrupt(getattr(os, name)))
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, b"new data")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_a_failed_write_names_the_destination(tmp_path, monkeypatch):
    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError, match=r"cannot write .*a\.bin: No space left on device"):
        atomic_write(tmp_path / "a.bin", b"abc")
    assert list(tmp_path.iterdir()) == []


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid  # reaped: no process has this id until the kernel reuses it


def test_remove_orphans_takes_what_dead_writers_left_and_nothing_else(tmp_path):
    dead = _dead_pid()
    (tmp_path / "sub").mkdir()
    orphan_file = tmp_path / "sub" / f".capture.safetensors.{dead}-abc123.tmp"
    orphan_dir = tmp_path / f".model.{dead}-x9.tmp"
    live = tmp_path / f".results.json.{os.getpid()}-def.tmp"  # this process: still writing it
    foreign = tmp_path / ".notes.tmp"  # not ours: no writer id
    for path in (orphan_file, live, foreign, tmp_path / "results.json"):
        path.write_bytes(b"x")
    orphan_dir.mkdir()
    (orphan_dir / "config.json").write_text("{}")
    assert sorted(remove_orphans(tmp_path)) == sorted([orphan_file, orphan_dir])
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(["sub", live.name, foreign.name, "results.json"])
    assert remove_orphans(tmp_path / "missing") == []
