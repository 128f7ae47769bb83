"""File writing that never leaves a half-written file behind, and the clean-up of what a killed
writer left.

Every file panacea writes goes through :func:`atomic_write`: the data goes to a temporary file in
the destination's directory, is flushed to disk, then renamed over the destination (``rename`` is
atomic on POSIX). An exception or Ctrl-C (``KeyboardInterrupt``) removes the temporary file; a
process killed outright (SIGKILL, the OOM killer, a power cut) can leave it, but never a partial
file under a real name. Temporary files are named ``.<name>.<pid>-<random>.tmp``, so
:func:`remove_orphans` can tell a dead writer's leftovers from the live files of a process still
running, and needs no lock.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

_ORPHAN = re.compile(r"^\..+\.(\d+)-[^.]+\.tmp$")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_fully(fd: int, data: bytes, path: Path) -> None:
    """Write all of ``data`` to ``fd`` (``path``: the destination, for the error message)."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError as err:
        raise OSError(err.errno, f"cannot write {path}: {err.strerror}") from err


def _fill(fd: int, tmp: Path, data: bytes | Callable[[Path], object], path: Path) -> None:
    """Write ``data`` (bytes, or a writer of ``tmp``) into the temporary file ``fd`` / ``tmp``."""
    if isinstance(data, bytes):
        _write_fully(fd, data, path)
    else:
        data(tmp)


def temp_name(path: Path) -> tuple[str, str]:
    """(prefix, suffix) of a temporary name for ``path`` that :func:`remove_orphans` recognises."""
    return f".{path.name}.{os.getpid()}-", ".tmp"


def atomic_write(path: str | os.PathLike, data: bytes | Callable[[Path], object]) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename.

    ``data`` is the bytes, or a writer called with the temporary file's path (a serializer that
    streams to a file, so that a large file never exists twice in memory). An exception or
    interruption (Ctrl-C included) leaves the previous file, or none, never a partial one.
    """
    path = Path(path)
    prefix, suffix = temp_name(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix)
    try:
        try:
            os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a written result is an ordinary file
            _fill(fd, Path(tmp), data, path)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_csv(path: str | os.PathLike, rows: list[dict]) -> None:
    """``rows`` as a CSV file (a header of every key, in first-seen order), written atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, list(dict.fromkeys(k for r in rows for k in r)))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, buf.getvalue().encode())


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_orphans(root: str | os.PathLike) -> list[Path]:
    """Remove, under ``root``, the temporary files (and directories) of :func:`atomic_write` whose
    writing process is gone; returns what was removed. Those of live processes are left alone."""
    removed = []
    root = Path(root)
    if not root.is_dir():
        return removed
    for path in sorted(root.rglob(".*.tmp")):
        match = _ORPHAN.match(path.name)
        if match is None or _alive(int(match.group(1))):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def read_text(path: str | os.PathLike, what: str = "file") -> str:
    """The UTF-8 text of ``path``, or one ``ValueError`` naming it and saying why (missing, a
    directory, unreadable, not UTF-8: with the offset of the first bad byte)."""
    path = Path(path)
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{what} {path} is not UTF-8 text (byte {err.start}: {err.reason})") from err
    except OSError as err:
        raise ValueError(f"{what} {path} cannot be read: {err.strerror or err}") from err


def read_json(path: str | os.PathLike, what: str = "file") -> object:
    """The JSON document of ``path``, or one ``ValueError`` naming it (unreadable, not JSON)."""
    try:
        return json.loads(read_text(path, what))
    except (json.JSONDecodeError, RecursionError) as err:  # RecursionError: nested too deep
        raise ValueError(f"{path} is not valid JSON: {err}") from err
