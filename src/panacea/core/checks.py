"""Argument checks shared by the public functions, and the one error of every file loader.

Every check raises one ``TypeError`` or ``ValueError`` whose message names the argument and says
what is allowed, so a user sees the problem in one line. Every loader of a file a user points at
(specs, tables, schemes, spaces, recipes, results, caches, workloads) reports a bad value through
:func:`input_error`: ``WHERE: FIELD: PROBLEM, got VALUE``, the value escaped and shortened, so the
message stays one line whatever bytes the file holds.
"""

from __future__ import annotations

import json
import numbers
import re
import tomllib
from collections.abc import Collection, Sized

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


# --------------------------------------------------------------------------- loaders' errors

_SHOWN = 80  # characters of a value's repr a message shows
_LONGEST = 2000  # characters of a whole message: a validator's own text can quote values too
_UNSET = object()
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'" + r'|"(?:[^"\\]|\\.)*"')  # a string as repr quotes it
# pydantic error types whose input is not the offending value (or is already in the message)
_NO_INPUT = frozenset(
    {"missing", "extra_forbidden", "value_error", "assertion_error", "union_tag_invalid", "union_tag_not_found"}
    | {"json_invalid", "json_type"}
)


def escaped(text: str) -> str:
    """``text`` with every character that is not printable (newline, tab, NUL, ESC, a lone
    surrogate from bytes that were not UTF-8) written as ``repr`` writes it: one line, always."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def shown(value: object) -> str:
    """``value`` as a message quotes it: its ``repr`` (strings quoted, control characters escaped),
    shortened to about 80 characters with ``...`` and the value's length when longer."""
    text = escaped(repr(value))
    if len(text) <= _SHOWN:
        return text
    if isinstance(value, str | bytes):
        head = value[: _SHOWN - 3]  # the quotes (b'') stay inside the 80
        while len(repr(head)) > _SHOWN:  # escapes take several characters each
            head = head[: len(head) // 2]
        unit = "characters" if isinstance(value, str) else "bytes"
        return f"{escaped(repr(head))}... ({len(value)} {unit})"
    size = f"{len(value)} items" if isinstance(value, Sized) else f"{len(text)} characters"
    return f"{text[:_SHOWN]}... ({size})"


def _shorter(literal: re.Match) -> str:
    quoted = literal.group()
    if len(quoted) <= _SHOWN:
        return quoted
    return f"{quoted[: _SHOWN - 4]}{quoted[0]}... ({len(quoted) - 2} characters)"


def _one_line(text: str) -> str:
    """``text`` escaped (:func:`escaped`) and at most about 2,000 characters: when longer (a
    validator's own text quoted a long value), each long quoted string is shortened as
    :func:`shown` shortens it, then the whole is cut if still too long."""
    text = escaped(text)
    if len(text) > _LONGEST:
        text = _QUOTED.sub(_shorter, text)
    if len(text) > _LONGEST:
        text = f"{text[:_LONGEST]}... ({len(text)} characters)"
    return text


def _dotted(field: object) -> str:
    if isinstance(field, tuple | list):
        return ".".join(str(p) for p in field)
    return str(field)


def input_error(where: object, problem: str, *, field: object = None, got: object = _UNSET) -> ValueError:
    """The one error of every loader, on one line: ``WHERE: FIELD: PROBLEM, got VALUE``.

    ``where`` names the file (or shipped table, or document; ``None`` where the caller adds it),
    ``field`` the dotted path in it (a string or the path's keys and list indices; ``None`` for the
    document itself), ``problem`` what is allowed (or what is wrong) and ``got`` the offending value,
    shown by :func:`shown`. Keys and file names are a user's too: every part is escaped."""
    parts = [str(p) for p in (where, field if field is None else _dotted(field)) if p is not None and p != ""]
    message = problem if got is _UNSET else f"{problem}, got {shown(got)}"
    return ValueError(_one_line(": ".join([*parts, message])))


def _problem(first: dict, tags: Collection[str]) -> tuple[tuple, str]:
    """(key path, message with the offending value) of one pydantic error; ``tags``: union tags
    pydantic puts in the path that are no key of the document."""
    loc, kind, ctx = tuple(first["loc"]), first["type"], first.get("ctx") or {}
    if loc and loc[0] in tags:
        loc = loc[1:]
    message = first["msg"]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        discriminator, tag = str(ctx.get("discriminator", "")), ctx.get("tag")
        if re.fullmatch(r"'\w+'", discriminator):  # the tag's key, else a function that finds the tag
            key = discriminator.strip("'")
            loc = (*loc, key)
            if isinstance(first.get("input"), dict) and key in first["input"]:
                tag = first["input"][key]  # the tag as the file has it (pydantic's copy lost bad bytes)
        if kind == "union_tag_invalid":  # pydantic's message quotes the tag raw
            message = (
                f"Input tag {shown(tag)} found using {discriminator} does not match any of the "
                f"expected tags: {ctx.get('expected_tags')}"
            )
    message = " ".join(message.removeprefix("Value error, ").split())
    inner = re.match(r"([\w.]+): (.*)", message)  # a validator that names a field below its own
    if inner and kind == "value_error":
        loc, message = (*loc, *inner.group(1).split(".")), inner.group(2)
    if kind not in _NO_INPUT and "input" in first:
        message = f"{message}, got {shown(first['input'])}"
    return loc, message


def first_error(err: ValidationError, tags: Collection[str] = ()) -> tuple[str, str]:
    """(dotted location, message) of a pydantic ``ValidationError``'s first error: what a one-line
    message names (``(top level)`` for the document itself), the offending value shown escaped."""
    loc, message = _problem(err.errors()[0], tags)
    return escaped(_dotted(loc)) or "(top level)", _one_line(message)


def invalid_file(path: object, err: ValidationError, what: str = "", *, tags: Collection[str] = ()) -> ValueError:
    """The one-line error for a file that failed validation: ``PATH: [what: ]FIELD: MESSAGE``
    (:func:`input_error`; ``tags`` as :func:`first_error` takes them)."""
    loc, message = _problem(err.errors()[0], tags)
    return input_error(f"{path}: {what}" if what else path, message, field=loc or None)


def parse_toml(text: str, where: str) -> dict:
    """A TOML document, or one ``ValueError`` naming ``where`` (a file, a shipped table)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise input_error(where, f"not valid TOML: {err}") from err


def validated(cls, data: object, where: str):
    """``data`` through the pydantic model ``cls``, strictly, as JSON is validated (a TOML value
    has its type: no "16" for 16); one ``ValueError`` naming ``where`` and the first bad field."""
    try:
        return cls.model_validate_json(json.dumps(data, default=str), strict=True)
    except ValidationError as err:
        raise invalid_file(where, err) from err
