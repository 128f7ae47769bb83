"""Quantization schemes and profiles as validated data (TOML files), like the accelerator specs.

A **scheme** (``shipped/*.toml``, or a user's file) has a ``name``, a ``label``, the number
``format`` it stores (:data:`panacea.core.formats.NumberFormat`: which designs can run it follows from
it) and a ``[calibration]`` table: fields of :class:`~panacea.quant.CalibrationConfig` for the
bit-slice formats (``bitslice-sym`` sets ``scheme = "sym"``, ``zpm = "off"``, ``dbs = false``
itself: the format has no zero point), of :class:`~panacea.quant.arbitrary.AQConfig` for
``arbitrary``. The fields a scheme's file sets define the scheme; every field it leaves unset is
an assumption, supplied by the **profile** (``profiles/*.toml``): ``defaults`` for every bit-slice
scheme, per-architecture layer ``overrides`` keyed by Hugging Face ``config.model_type`` (GPT-2's
10-bit MLP weights, Llama's 12-bit down-projection inputs), and ``why``: the reason for each
choice (for the ``paper`` profile, the sentence of the paper it rests on). Changes given on the
command line (``--set KEY=VALUE``) replace the profile's defaults the same way.

Shipped schemes: ``sym`` (Sibia's W7A7), ``asym``, ``zpm-paper`` (eq. 7), ``zpm`` (searched),
``dbs``, ``optq4`` (4-bit OPTQ, groups of 64), ``sym-optq4`` (Fig. 19's Sibia with 4-bit weights)
and ``aq`` (the JSSC 2024 arbitrary-quantization accelerator). Shipped profiles: ``accurate``
(per-channel weights) and ``paper`` (our reading of the paper). Adding a scheme or a profile is adding a file.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from panacea.core.checks import first_error, input_error, parse_toml, shown, validated
from panacea.core.files import read_text
from panacea.core.formats import NumberFormat
from panacea.quant.arbitrary import AQConfig
from panacea.quant.config import CalibrationConfig, LayerOverride

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
# What a profile may not change: the format decides the first; layer overrides come per architecture.
_NOT_ASSUMPTIONS = ("scheme", "overrides")


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BitSliceScheme(_Data):
    """A scheme on Panacea's or Sibia's bit-slice formats (module docstring)."""

    name: str = Field(pattern=NAME_PATTERN)
    label: str = Field(min_length=1, max_length=100)
    format: Literal["bitslice-asym", "bitslice-sym"]
    calibration: CalibrationConfig

    @model_validator(mode="after")
    def _format_decides_the_activations(self) -> BitSliceScheme:
        want = "sym" if self.format == "bitslice-sym" else "asym"
        if self.calibration.scheme != want:
            raise ValueError(f"calibration.scheme: format {self.format!r} has {want!r} activations")
        return self

    @property
    def layer_overrides(self) -> tuple[LayerOverride, ...]:
        """The per-layer settings over the scheme's (a profile's mixed precision among them)."""
        return tuple(self.calibration.overrides)

    def resolved(
        self,
        profile: Profile,
        model_type: str | None,
        changes: Mapping[str, object] | None,
        *,
        architecture_overrides: bool,
    ) -> BitSliceScheme:
        """:func:`resolve` for a bit-slice scheme."""
        own = self.calibration
        fixed = own.model_fields_set
        update = {k: v for k, v in {**profile.defaults, **(changes or {})}.items() if k not in fixed}
        extra = profile.overrides(model_type) if architecture_overrides else ()
        data = own.model_dump(mode="json") | update
        data["overrides"] += [o.model_dump(mode="json", exclude_defaults=True) for o in extra]
        where = f"scheme {self.name} under profile {profile.name}" + (f" with {dict(changes)}" if changes else "")
        calibration = validated(CalibrationConfig, data, where)
        return self.model_copy(update={"calibration": calibration})


class ArbitraryScheme(_Data):
    """A scheme of per-layer codebooks for the JSSC 2024 arbitrary-quantization accelerator
    (:mod:`panacea.quant.arbitrary`)."""

    name: str = Field(pattern=NAME_PATTERN)
    label: str = Field(min_length=1, max_length=100)
    format: Literal["arbitrary"]
    calibration: AQConfig

    @property
    def layer_overrides(self) -> None:
        return None  # no per-layer precision: codebooks are fitted per layer already

    def resolved(
        self, profile: Profile, model_type: str | None, changes: Mapping[str, object] | None, **_
    ) -> ArbitraryScheme:
        """A profile's fields are bit-slice calibration fields: an arbitrary scheme is its own."""
        return self


Scheme = BitSliceScheme | ArbitraryScheme
_SCHEME_CLASSES: dict[str, type[BitSliceScheme] | type[ArbitraryScheme]] = {
    "bitslice-asym": BitSliceScheme,
    "bitslice-sym": BitSliceScheme,
    "arbitrary": ArbitraryScheme,
}


class Profile(_Data):
    """A named set of assumptions: scheme defaults and per-architecture layer overrides."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field(min_length=1)
    defaults: dict[str, object] = Field(default_factory=dict)
    architectures: dict[str, tuple[LayerOverride, ...]] = Field(default_factory=dict)
    why: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _every_choice_is_valid_and_has_its_reason(self) -> Profile:
        check_assumptions(self.defaults, "defaults")
        choices = [f"defaults.{k}" for k in self.defaults] + [f"architectures.{a}" for a in self.architectures]
        for choice in choices:
            if not self.why.get(choice, "").strip():
                raise ValueError(f"why: {choice!r} has no reason: say why the profile makes that choice")
        unknown = sorted(set(self.why) - set(choices))
        if unknown:
            raise ValueError(f"why: {unknown[0]!r} is no choice of this profile (choices: {choices})")
        return self

    def overrides(self, model_type: str | None) -> tuple[LayerOverride, ...]:
        """The layer overrides of an architecture (none if the profile has none for it)."""
        return self.architectures.get(model_type or "", ())


def check_assumptions(changes: Mapping[str, object], where: str = "") -> None:
    """Each change must name a :class:`CalibrationConfig` field a profile may set, with a value
    that field accepts (checked on the default configuration: combinations are checked per
    scheme when they are applied)."""
    allowed = [f for f in CalibrationConfig.model_fields if f not in _NOT_ASSUMPTIONS]
    prefix = f"{where}." if where else ""
    for key, value in changes.items():
        if key not in allowed:
            raise input_error(
                None, f"not a calibration field a profile may set (allowed: {allowed})", field=prefix + key
            )
        try:
            CalibrationConfig.model_validate_json(json.dumps({key: value}, default=str), strict=True)
        except ValidationError as err:
            field, message = first_error(err)
            if field == key:  # the value itself; a combination with other fields is checked later
                raise input_error(None, message, field=prefix + key) from err


# --------------------------------------------------------------------------- loading


def _shipped(folder: str) -> tuple[str, ...]:
    files = resources.files("panacea.schemes").joinpath(folder).iterdir()
    return tuple(sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml")))


SHIPPED_SCHEMES = _shipped("shipped")
# The scheme each accelerator kind runs when one scheme stands for a design: the paper's pairing
# (section IV; Panacea and the dense designs on ZPM + DBS, Sibia on its symmetric format, the JSSC 2024
# arbitrary-quantization accelerator on its codebooks).
SCHEME_OF_KIND = {"panacea": "dbs", "sibia": "sym", "systolic": "dbs", "simd": "dbs", "bitserial": "aq"}
SHIPPED_PROFILES = _shipped("profiles")


def _toml(kind: str, folder: str, name_or_path: str | Path, shipped: tuple[str, ...]) -> tuple[dict, str]:
    if str(name_or_path) in shipped:
        text = resources.files("panacea.schemes").joinpath(folder).joinpath(f"{name_or_path}.toml").read_text()
        where = f"{kind} {name_or_path}"
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise input_error(
                None, f"{kind} {shown(str(name_or_path))} is neither a shipped {kind} {list(shipped)} nor a file"
            )
        text, where = read_text(path, kind), f"{kind} {path}"
    return parse_toml(text, where), where


def scheme_from_data(data: dict, where: str) -> Scheme:
    """A scheme from the parsed document of its file (``where`` names it in errors)."""
    fmt = data.get("format")
    if not isinstance(fmt, str) or fmt not in _SCHEME_CLASSES:
        raise input_error(where, f"must be one of {list(_SCHEME_CLASSES)}", field="format", got=fmt)
    calibration = data.get("calibration", {})
    if fmt != "arbitrary" and isinstance(calibration, dict) and "scheme" in calibration:
        raise input_error(
            where, f"format {shown(fmt)} decides the activations; leave it out", field="calibration.scheme"
        )
    if fmt == "bitslice-sym" and isinstance(calibration, dict):
        calibration = {"scheme": "sym", "zpm": "off", "dbs": False, **calibration}
    elif fmt == "bitslice-asym" and isinstance(calibration, dict):
        calibration = {"scheme": "asym", **calibration}
    return validated(_SCHEME_CLASSES[fmt], {**data, "calibration": calibration}, where)


def load_scheme(name_or_path: str | Path) -> Scheme:
    """A shipped scheme by name (:data:`SHIPPED_SCHEMES`) or a TOML file."""
    if str(name_or_path) in SHIPPED_SCHEMES:
        return _shipped_scheme(str(name_or_path))
    return scheme_from_data(*_toml("scheme", "shipped", name_or_path, SHIPPED_SCHEMES))


@functools.cache
def _shipped_scheme(name: str) -> Scheme:
    # Read once per process: a run asks for the same shipped schemes from several validators.
    return scheme_from_data(*_toml("scheme", "shipped", name, SHIPPED_SCHEMES))


@functools.cache  # a sweep asks for every point and design
def activations_of_kind(kind: str) -> Literal["asym", "sym"]:
    """The activations of the bit-slice workload a design of ``kind`` runs: those of its scheme
    (:data:`SCHEME_OF_KIND`), asymmetric on Panacea and the dense designs, symmetric on Sibia."""
    scheme = load_scheme(SCHEME_OF_KIND[kind])
    if not isinstance(scheme, BitSliceScheme):
        raise ValueError(f"a {kind} design runs {scheme.format} workloads, not bit-slice ones")
    return scheme.calibration.scheme


def load_schemes(names: Sequence[str | Path]) -> list[Scheme]:
    """The schemes of one run: each loaded, their names distinct."""
    schemes = [load_scheme(n) for n in names]
    seen = [s.name for s in schemes]
    twice = sorted({n for n in seen if seen.count(n) > 1})
    if twice:
        raise input_error(None, f"two of {shown(list(map(str, names)))} are both named {shown(twice[0])}")
    return schemes


def load_profile(name_or_path: str | Path) -> Profile:
    """A shipped profile by name (:data:`SHIPPED_PROFILES`) or a TOML file."""
    data, where = _toml("profile", "profiles", name_or_path, SHIPPED_PROFILES)
    return validated(Profile, data, where)


# --------------------------------------------------------------------------- the schemes of a run


def resolve(
    scheme: Scheme,
    profile: Profile,
    model_type: str | None = None,
    changes: Mapping[str, object] | None = None,
    *,
    architecture_overrides: bool = True,
) -> Scheme:
    """``scheme`` under ``profile`` for a model of ``model_type``: every calibration field the
    scheme's file leaves unset takes the profile's default, then ``changes`` (same rule); the
    architecture's layer overrides follow the scheme's own. Arbitrary schemes are returned as
    they are (a profile's fields are bit-slice calibration fields)."""
    return scheme.resolved(profile, model_type, changes, architecture_overrides=architecture_overrides)


def accepted(formats: tuple[NumberFormat, ...], schemes: list[Scheme]) -> list[Scheme]:
    """The schemes a design that computes on ``formats`` can run, in their order."""
    return [s for s in schemes if s.format in formats]


__all__ = [
    "SHIPPED_PROFILES",
    "SHIPPED_SCHEMES",
    "ArbitraryScheme",
    "BitSliceScheme",
    "Profile",
    "Scheme",
    "accepted",
    "activations_of_kind",
    "check_assumptions",
    "load_profile",
    "load_scheme",
    "load_schemes",
    "resolve",
    "scheme_from_data",
]
