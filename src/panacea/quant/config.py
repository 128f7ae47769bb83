"""How to calibrate: a validated configuration (pydantic), with per-layer overrides."""

from __future__ import annotations

import fnmatch
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from panacea.core.formats import ACT_BITS, WEIGHT_BITS
from panacea.quant.observers import RANGE_METHODS


def _in(allowed: tuple[int, ...], name: str):
    def check(v: int) -> int:
        if v not in allowed:
            raise ValueError(f"{name} must be one of {list(allowed)}")
        return v

    return AfterValidator(check)


WBits = Annotated[int, _in(WEIGHT_BITS, "w_bits")]
XBits = Annotated[int, _in(ACT_BITS, "x_bits")]
# Which weights share one symmetric scale: the whole matrix, one output channel, or ``w_group_size``
# consecutive input channels of one output channel (the OPTQ/GPTQ grouping). The paper never states
# it for its 7-bit weights; it decides the weights' top-slice vector sparsity (README, "Fidelity").
WGranularity = Literal["tensor", "channel", "group"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LayerOverride(_Strict):
    """Settings for the layers whose names match the glob ``pattern`` (first match wins); a
    ``w_group_size`` alone means per-group weights."""

    pattern: str
    w_bits: WBits | None = None
    x_bits: XBits | None = None
    w_granularity: WGranularity | None = None
    w_group_size: int | None = Field(default=None, ge=1)
    skip: bool = False

    @model_validator(mode="after")
    def _group_size_only_for_groups(self) -> LayerOverride:
        if self.w_group_size is not None and self.w_granularity not in ("group", None):
            raise ValueError(f"w_group_size applies to w_granularity 'group' only, got {self.w_granularity!r}")
        return self


class LayerSettings(_Strict):
    """The settings that apply to one layer after overrides."""

    w_bits: int
    x_bits: int
    w_granularity: WGranularity
    w_group_size: int | None  # set exactly when w_granularity is "group"


class CalibrationConfig(_Strict):
    """Post-training quantization the Panacea way (paper sections II-A, III-C).

    - ``scheme``: ``"asym"`` (unsigned activations with a zero point, Panacea) or ``"sym"``
      (signed symmetric activations with ``3n+1`` bits for ``x_bits = 4n``: 7 for 8, Sibia).
    - weights: symmetric, ``w_bits``, one scale per ``w_granularity``: ``"tensor"``, ``"channel"``
      (per output channel, the default) or ``"group"`` (per ``w_group_size`` input channels);
      ``optq`` runs OPTQ/GPTQ (Hessian from calibration inputs, ``optq_damp`` dampening,
      ``optq_act_order``, layers processed block by block) instead of rounding to nearest.
    - activations: static per-layer range from ``observer`` (``minmax``, ``percentile`` at
      ``percentile``, or ``mse``).
    - ``zpm``: ``"off"``, ``"paper"`` (eq. 7: the middle of the HO bin) or ``"search"`` (the zero
      point within the HO bin with the most compressed vectors on the calibration data, among those
      whose expected quantization error grows by at most ``zpm_error_tolerance`` relative to the
      calibrated zero point's; the calibrated zero point itself is a candidate, so it never lowers
      the measured sparsity). The count converges fast, so it runs on the first
      ``zpm_search_batches`` calibration batches (2 by default, ``None`` for all): on SmolLM2, 2 of
      8 batches of 4 x 512 tokens gave the same held-out vector sparsity to four decimals.
    - ``dbs``: pick the DBS type per layer from the quantized activations' sigma for
      ``dbs_target`` slice sparsity, then apply ZPM for that type.
    - ``skip``: glob patterns of GEMMs left in floating point (the LM head by default);
      ``overrides``: per-layer bits and group sizes (e.g. 10-bit MLP weights for GPT-2, 12-bit
      inputs for Llama's down-projection).
    - ``vector``/``index_bits``: slice-vector length and RLE index width, for the measurements.
    """

    scheme: Literal["asym", "sym"] = "asym"
    w_bits: WBits = 7
    x_bits: XBits = 8
    w_granularity: WGranularity = "channel"
    w_group_size: int | None = Field(default=None, ge=1)
    observer: str = "minmax"
    percentile: float = Field(default=99.99, gt=50.0, le=100.0)
    zpm: Literal["off", "paper", "search"] = "search"
    zpm_error_tolerance: float = Field(default=0.25, ge=0.0)
    zpm_search_batches: int | None = Field(default=2, ge=1)
    dbs: bool = True
    dbs_target: float = Field(default=0.9, gt=0.0, lt=1.0)
    optq: bool = False
    optq_damp: float = Field(default=0.01, gt=0.0)
    optq_act_order: bool = True
    optq_block_size: int = Field(default=128, ge=1)
    skip: tuple[str, ...] = ("lm_head",)
    overrides: tuple[LayerOverride, ...] = ()
    vector: int = Field(default=4, ge=1, le=64)
    index_bits: int = Field(default=4, ge=1, le=16)

    @field_validator("zpm", mode="before")
    @classmethod
    def _zpm_none_is_off(cls, v):
        return "off" if v is None else v  # a recipe file may say "off" as null

    @field_validator("observer")
    @classmethod
    def _observer(cls, v: str) -> str:
        if v not in RANGE_METHODS:
            raise ValueError(f"observer must be one of {list(RANGE_METHODS)}")
        return v

    @model_validator(mode="after")
    def _sym_has_no_zero_point(self) -> CalibrationConfig:
        if self.scheme == "sym" and (self.zpm != "off" or self.dbs):
            raise ValueError("scheme 'sym' has no zero point: set zpm='off' and dbs=False")
        return self

    @model_validator(mode="after")
    def _group_size_with_groups(self) -> CalibrationConfig:
        if (self.w_granularity == "group") != (self.w_group_size is not None):
            raise ValueError(
                "w_group_size is required with w_granularity 'group' and applies to it only, got "
                f"w_granularity {self.w_granularity!r} and w_group_size {self.w_group_size}"
            )
        for i, o in enumerate(self.overrides):
            if o.w_granularity == "group" and o.w_group_size is None and self.w_group_size is None:
                raise ValueError(f"overrides.{i} ({o.pattern!r}): w_granularity 'group' needs a w_group_size")
        return self

    def layer(self, name: str) -> LayerSettings | None:
        """The settings of layer ``name``, or ``None`` if it stays in floating point."""
        if any(fnmatch.fnmatchcase(name, p) for p in self.skip):
            return None
        for o in self.overrides:
            if fnmatch.fnmatchcase(name, o.pattern):
                if o.skip:
                    return None
                granularity = o.w_granularity or ("group" if o.w_group_size is not None else self.w_granularity)
                group_size = (o.w_group_size or self.w_group_size) if granularity == "group" else None
                return LayerSettings(
                    w_bits=o.w_bits or self.w_bits,
                    x_bits=o.x_bits or self.x_bits,
                    w_granularity=granularity,
                    w_group_size=group_size,
                )
        return LayerSettings(
            w_bits=self.w_bits, x_bits=self.x_bits, w_granularity=self.w_granularity, w_group_size=self.w_group_size
        )
