"""The cache of a model's scheme runs (``--resume``) and the output directory's checks.

Under ``OUT/cache/``, per scheme a directory keyed by the SHA-256 of the model's weights and
source, the task's data and the scheme's resolved definition, holding its calibration (when its
quantizer keeps one) and its captured workloads and metrics (after evaluation); the float model's
metrics likewise. Files are written atomically, so an interrupted run resumes from what was
finished; a run killed outright (SIGKILL) can leave temporary files, never a partial one, and the
next run removes them; a damaged entry is computed again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import torch
from pydantic import TypeAdapter, ValidationError

from panacea.core.checks import input_error, invalid_file
from panacea.core.files import atomic_write
from panacea.models.memory import drop_pages
from panacea.results.schema import SchemeRecord
from panacea.workload import Workload
from panacea.workload.codec import workloads_from_bytes

CACHE_VERSION = 3
log = logging.getLogger(__name__)


def check_output(out: Path) -> Path:
    """Raise one clear error unless ``out`` is, or can be created as, a writable directory; creates
    nothing (a run that fails on later input leaves no trace)."""
    existing = next(p for p in (out, *out.parents) if p.exists() or p == Path(p.anchor))
    if not existing.is_dir():
        raise ValueError(f"output directory {str(out)!r} cannot be created: {str(existing)!r} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"output directory {str(out)!r} is not writable ({str(existing)!r} is not)")
    return out


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


def load_capture(path: Path) -> tuple[SchemeRecord, dict[str, list[Workload]]]:
    """A scheme's cached record and workload groups."""
    try:
        groups, meta = workloads_from_bytes(path.read_bytes())
        return SchemeRecord.model_validate(meta), groups
    except ValidationError as err:
        raise invalid_file(path, err, "meta") from err
    except ValueError as err:
        raise input_error(path, str(err)) from err


_METRICS = TypeAdapter(dict[str, float])


def load_metrics(path: Path) -> dict[str, float]:
    """The float model's cached metrics."""
    try:
        return _METRICS.validate_json(path.read_bytes())
    except ValidationError as err:
        raise invalid_file(path, err) from err
