"""How to calibrate: a validated configuration (pydantic), with per-layer overrides."""

from __future__ import annotations

import fnmatch
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from panacea.formats import ACT_BITS, WEIGHT_BITS
from panacea.quant.observers import RANGE_METHODS


def _in(allowed: tuple[int, ...], name: str):
    def check(v: int) -> int:
        if v not in allowed:
            raise ValueError(f"{name} must be one of {list(allowed)}")
        return v

    return AfterValidator(check)


WBits = Annotated[int, _in(WEIGHT_BITS, "w_bits")]
XBits = Annotated[int, _in(ACT_BITS, "x_bits")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LayerOverride(_Strict):
    """Settings for the layers whose names match the glob ``pattern`` (first match wins)."""

    pattern: str
    w_bits: WBits | None = None
    x_bits: XBits | None = None
    w_group_size: int | None = Field(default=None, ge=1)
    skip: bool = False


class LayerSettings(_Strict):
    """The settings that apply to one layer after overrides."""

    w_bits: int
    x_bits: int
    w_group_size: int | None


class CalibrationConfig(_Strict):
    """Post-training quantization the Panacea way (paper sections II-A, III-C).

    - ``scheme``: ``"asym"`` (unsigned activations with a zero point, Panacea) or ``"sym"``
      (signed symmetric activations with ``3n+1`` bits for ``x_bits = 4n``: 7 for 8, Sibia).
    - weights: symmetric, ``w_bits``, per output channel or per ``w_group_size`` input channels;
      ``optq`` runs OPTQ/GPTQ (Hessian from calibration inputs, ``optq_damp`` dampening,
      ``optq_act_order``, layers processed block by block) instead of rounding to nearest.
    - activations: static per-layer range from ``observer`` (``minmax``, ``percentile`` at
      ``percentile``, or ``mse``).
    - ``zpm``: ``None``, ``"paper"`` (eq. 7: the middle of the HO bin) or ``"search"`` (the zero
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
    w_group_size: int | None = Field(default=None, ge=1)
    observer: str = "minmax"
    percentile: float = Field(default=99.99, gt=50.0, le=100.0)
    zpm: Literal["paper", "search"] | None = "search"
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

    @field_validator("observer")
    @classmethod
    def _observer(cls, v: str) -> str:
        if v not in RANGE_METHODS:
            raise ValueError(f"observer must be one of {list(RANGE_METHODS)}")
        return v

    @model_validator(mode="after")
    def _sym_has_no_zero_point(self) -> CalibrationConfig:
        if self.scheme == "sym" and (self.zpm is not None or self.dbs):
            raise ValueError("scheme 'sym' has no zero point: set zpm=None and dbs=False")
        return self

    def layer(self, name: str) -> LayerSettings | None:
        """The settings of layer ``name``, or ``None`` if it stays in floating point."""
        if any(fnmatch.fnmatchcase(name, p) for p in self.skip):
            return None
        for o in self.overrides:
            if fnmatch.fnmatchcase(name, o.pattern):
                if o.skip:
                    return None
                return LayerSettings(
                    w_bits=o.w_bits or self.w_bits,
                    x_bits=o.x_bits or self.x_bits,
                    w_group_size=o.w_group_size if o.w_group_size is not None else self.w_group_size,
                )
        return LayerSettings(w_bits=self.w_bits, x_bits=self.x_bits, w_group_size=self.w_group_size)


# The paper's mixed precision per architecture (section IV): GPT-2's MLP weights in 10 bits
# (footnote to Fig. 14), Llama's down-projection inputs in 12 bits ("three bit-slices", Fig. 17).
PAPER_OVERRIDES: dict[str, tuple[LayerOverride, ...]] = {
    "gpt2": (LayerOverride(pattern="*.mlp.*", w_bits=10),),
    "llama": (LayerOverride(pattern="*.mlp.down_proj", x_bits=12),),
}


def paper_overrides(model_type: str | None) -> tuple[LayerOverride, ...]:
    """The paper's per-layer precision for a Hugging Face ``config.model_type`` (none if unknown)."""
    return PAPER_OVERRIDES.get(model_type or "", ())
