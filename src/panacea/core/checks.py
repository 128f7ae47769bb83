"""Argument checks shared by the public functions.

Every check raises one ``TypeError`` or ``ValueError`` whose message names the argument and says
what is allowed, so a user sees the problem in one line.
"""

from __future__ import annotations

import json
import numbers
import re
import tomllib
from collections.abc import Collection

import numpy as np
import torch
from pydantic import ValidationError

_INT_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def check_distinct(name: str, values: tuple[str, ...]) -> tuple[str, ...]:
    """``values`` if there is at least one and no name repeats, else one error naming ``name``."""
    if not values or len(set(values)) != len(values):
        raise ValueError(f"{name} must be distinct, at least one, got {list(values)}")
    return values


def check_choice(name: str, value: object, allowed: Collection[int]) -> int:
    """``value`` must be a plain int (not bool) taken from ``allowed``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")
    return int(value)


def check_int_range(name: str, value: object, lo: int, hi: int) -> int:
    """``value`` must be a plain int (or 0-d integer tensor) in ``[lo, hi]``."""
    if isinstance(value, torch.Tensor) and value.ndim == 0 and value.dtype in _INT_DTYPES:
        value = int(value.item())
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer in [{lo}, {hi}], got {type(value).__name__} {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
    return int(value)


def check_fraction(name: str, value: object, *, closed: bool = False) -> float:
    """``value`` must be a real number in the open interval (0, 1) (``[0, 1]`` if ``closed``)."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real)
    ok = ok and (0.0 <= float(value) <= 1.0 if closed else 0.0 < float(value) < 1.0)
    if not ok:
        raise ValueError(f"{name} must be a number in {'[0, 1]' if closed else '(0, 1)'}, got {value!r}")
    return float(value)


def as_int_matrix(name: str, value: object) -> torch.Tensor:
    """A 2-D integer CPU tensor with no empty dimension (numpy integer arrays are accepted)."""
    if isinstance(value, np.ndarray):
        if not np.issubdtype(value.dtype, np.integer):
            raise TypeError(f"{name} must hold integers, got numpy dtype {value.dtype}")
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of integers, got {type(value).__name__}")
    if value.dtype not in _INT_DTYPES:
        raise TypeError(
            f"{name} must have an integer dtype (uint8, int8, int16, int32, int64), got {value.dtype}; "
            "quantize it first"
        )
    if value.device.type != "cpu":
        raise ValueError(f"{name} must be a CPU tensor, got device {value.device}")
    if value.ndim != 2 or min(value.shape) < 1:
        raise ValueError(f"{name} must be a 2-D tensor with every dimension >= 1, got shape {tuple(value.shape)}")
    return value


def check_values_in(name: str, t: torch.Tensor, lo: int, hi: int, what: str) -> tuple[int, int]:
    """Every value of ``t`` must lie in ``[lo, hi]``; returns the observed (min, max)."""
    info = torch.iinfo(t.dtype)
    if info.min >= lo and info.max <= hi:  # the dtype itself guarantees the range: no pass over t
        return lo, hi
    mn, mx = (int(v) for v in torch.aminmax(t))
    if mn < lo or mx > hi:
        raise ValueError(f"{name} must hold {what} in [{lo}, {hi}], found values in [{mn}, {mx}]")
    return mn, mx


def check_option(name: str, value: object, allowed: Collection[str]) -> str:
    """``value`` must be one of the strings in ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")
    return value


def first_error(err) -> tuple[str, str]:
    """(dotted location, message) of a pydantic ``ValidationError``'s first error: what a one-line
    message names (``(top level)`` for the document itself)."""
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    message = " ".join(first["msg"].removeprefix("Value error, ").split())
    inner = re.match(r"([\w.]+): (.*)", message)  # a validator that names a field below its own
    if inner and first["type"] == "value_error":
        where, message = ".".join(p for p in (where, inner.group(1)) if p), inner.group(2)
    return where or "(top level)", message


def parse_toml(text: str, where: str) -> dict:
    """A TOML document, or one ``ValueError`` naming ``where`` (a file, a shipped table)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{where}: not valid TOML: {err}") from err


def validated(cls, data: object, where: str):
    """``data`` through the pydantic model ``cls``, strictly, as JSON is validated (a TOML value
    has its type: no "16" for 16); one ``ValueError`` naming ``where`` and the first bad field."""
    try:
        return cls.model_validate_json(json.dumps(data, default=str), strict=True)
    except ValidationError as err:
        field, message = first_error(err)
        raise ValueError(f"{where}: {message}" if field == "(top level)" else f"{where}: {field}: {message}") from err


def invalid_file(path: object, err, what: str = "") -> ValueError:
    """The one-line error for a file that failed validation: ``PATH: [what: ]FIELD: MESSAGE``."""
    where, message = first_error(err)
    return ValueError(f"{path}: {what + ': ' if what else ''}{where}: {message}")
