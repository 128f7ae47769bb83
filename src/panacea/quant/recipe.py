"""The result of calibration: per-layer quantization parameters, saved as JSON + safetensors.

A :class:`QuantRecipe` holds, for every quantized GEMM, the integer weights in the GEMM layout
``[M, groups * K]`` with their scales, and the static activation parameters (scale, zero point
after ZPM, DBS ``lo_bits``). ``save(directory)`` writes ``recipe.safetensors`` then
``recipe.json`` (which records the tensors' SHA-256), each through a temporary file and a rename:
the JSON, written last, commits the recipe, so a crash between the two leaves a pair whose hash
check fails on load (one clear error), never a silently mixed recipe. ``load`` validates the JSON
(pydantic), the hash, and every tensor's shape, dtype and value range.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from panacea.core.checks import input_error, invalid_file, shown
from panacea.core.files import atomic_write, read_text
from panacea.core.formats import ACT_BITS, LO_BITS, WEIGHT_BITS, weight_qmax
from panacea.quant.config import CalibrationConfig, WGranularity

FORMAT = "panacea-recipe"
VERSION = 1
JSON_NAME, TENSORS_NAME = "recipe.json", "recipe.safetensors"


def sym_act_bits(x_bits: int) -> int:
    """Bits of symmetric (Sibia) activations for ``x_bits = 4n``: ``3n + 1`` (7 for 8, 10 for 12)."""
    return 3 * (x_bits // 4) + 1


class LayerRecipe(BaseModel):
    """Quantization parameters of one GEMM (weights live in the recipe's tensors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Literal["linear", "conv1d", "conv2d"]
    k: int = Field(ge=1)
    m: int = Field(ge=1)
    groups: int = Field(default=1, ge=1)
    w_bits: int
    w_granularity: WGranularity = "channel"
    w_group_size: int | None = Field(default=None, ge=1)  # the scales' storage grouping
    x_bits: int
    symmetric: bool
    x_scale: float = Field(gt=0.0)
    zero_point: int
    lo_bits: int = 4
    calibrated_zero_point: int
    x_range: tuple[float, float]
    sigma: float = Field(ge=0.0)  # std of the quantized activations, in steps

    @model_validator(mode="after")
    def _consistent(self) -> LayerRecipe:
        if self.groups > 1:  # scales per output channel and convolution group (or all equal)
            if self.w_granularity == "group" or self.w_group_size != self.k:
                raise ValueError(
                    "groups > 1 (a grouped convolution) has w_granularity 'channel' or 'tensor' with w_group_size "
                    f"= k = {self.k}, got {self.w_granularity!r} and {self.w_group_size}"
                )
        elif (self.w_granularity == "group") != (self.w_group_size is not None):
            raise ValueError(
                f"w_group_size is set exactly when w_granularity is 'group', got {self.w_granularity!r} and "
                f"{self.w_group_size}"
            )
        if self.w_bits not in WEIGHT_BITS:
            raise ValueError(f"w_bits must be one of {list(WEIGHT_BITS)}")
        if self.x_bits not in ACT_BITS:
            raise ValueError(f"x_bits must be one of {list(ACT_BITS)}")
        if self.lo_bits not in LO_BITS:
            raise ValueError(f"lo_bits must be one of {list(LO_BITS)}")
        if not math.isfinite(self.x_scale):
            raise ValueError("x_scale must be finite")
        if self.symmetric:
            if self.zero_point != 0 or self.lo_bits != 4:
                raise ValueError("symmetric activations have zero_point 0 and lo_bits 4")
        elif not 0 <= self.zero_point <= 2**self.x_bits - 1:
            raise ValueError(f"zero_point must be in [0, {2**self.x_bits - 1}]")
        return self

    @property
    def x_qmax(self) -> int:
        """Largest activation integer: ``2^b - 1`` (asymmetric) or ``2^(b'-1) - 1`` (symmetric)."""
        return 2 ** (sym_act_bits(self.x_bits) - 1) - 1 if self.symmetric else 2**self.x_bits - 1

    @property
    def weight_shape(self) -> tuple[int, int]:
        return self.m, self.groups * self.k

    @property
    def scale_columns(self) -> int:
        k_total = self.groups * self.k
        return 1 if self.w_group_size is None else math.ceil(k_total / self.w_group_size)


class _RecipeFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["panacea-recipe"]
    version: Literal[1]
    config: CalibrationConfig
    layers: list[LayerRecipe]
    tensors_sha256: str
    skipped: list[str] = []


def _with_granularity(text: str) -> str:
    """A recipe file without ``w_granularity``, which says per-group weights by a ``w_group_size``
    alone, in the terms of ``w_granularity`` (anything unexpected is left to the validation)."""
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    if not isinstance(doc, dict) or not isinstance(doc.get("layers"), list) or not isinstance(doc.get("config"), dict):
        return text
    overrides = doc["config"].get("overrides")
    for part in [doc["config"], *(overrides if isinstance(overrides, list) else ()), *doc["layers"]]:
        if isinstance(part, dict) and "w_granularity" not in part and part.get("w_group_size") is not None:
            grouped_conv = part is not doc["config"] and part.get("groups", 1) != 1
            part["w_granularity"] = "channel" if grouped_conv else "group"
    return json.dumps(doc)


def _weight_key(name: str) -> str:
    return f"{name}/w_q"


def _scale_key(name: str) -> str:
    return f"{name}/w_scale"


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


@dataclass
class QuantRecipe:
    """Calibrated quantization of a model: ``layers`` by name and their integer weights."""

    config: CalibrationConfig
    layers: dict[str, LayerRecipe]
    tensors: dict[str, torch.Tensor] = field(repr=False)
    skipped: list[str] = field(default_factory=list)

    def weight(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Integer weights ``[M, groups * K]`` and their scales ``[M, 1 or groups]`` of a layer."""
        return self.tensors[_weight_key(name)], self.tensors[_scale_key(name)]

    def validate(self) -> QuantRecipe:
        """Check every layer's tensors against its parameters; raises ``ValueError`` naming the
        layer (``layers.<i>``, its name), the tensor and the fields its shape follows from."""
        for i, (name, layer) in enumerate(self.layers.items()):
            where = f"layers.{i} ({name!r})"
            for key in (_weight_key(name), _scale_key(name)):
                if key not in self.tensors:
                    raise ValueError(f"{where}: no tensor {key!r} for its name")
            w_q, scale = self.weight(name)
            if tuple(w_q.shape) != layer.weight_shape or w_q.dtype not in (torch.int8, torch.int16):
                raise ValueError(
                    f"{where}: weights {_weight_key(name)!r} must be int8/int16 of shape (m, groups x k) = "
                    f"{layer.weight_shape}, got {w_q.dtype} {tuple(w_q.shape)}"
                )
            q = weight_qmax(layer.w_bits)
            if w_q.numel() and (int(w_q.min()) < -q or int(w_q.max()) > q):
                raise ValueError(
                    f"{where}: weights {_weight_key(name)!r} outside [-{q}, {q}] for w_bits {layer.w_bits}"
                )
            if scale.dtype != torch.float32 or tuple(scale.shape) != (layer.m, layer.scale_columns):
                raise ValueError(
                    f"{where}: weight scales {_scale_key(name)!r} must be float32 of shape (m, groups x k / "
                    f"w_group_size) = ({layer.m}, {layer.scale_columns}), got {scale.dtype} {tuple(scale.shape)}"
                )
            if not bool((torch.isfinite(scale) & (scale > 0)).all()):
                raise ValueError(f"{where}: weight scales {_scale_key(name)!r} must be finite and > 0")
            if layer.w_granularity == "tensor" and scale.numel() and not bool((scale == scale.flatten()[0]).all()):
                raise ValueError(f"{where}: weight scales {_scale_key(name)!r} differ, w_granularity is 'tensor'")
        unknown = sorted(set(self.tensors) - {k for n in self.layers for k in (_weight_key(n), _scale_key(n))})
        if unknown:
            raise ValueError(f"recipe tensors {unknown[:3]} belong to no entry of layers")
        return self

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``recipe.safetensors`` and ``recipe.json`` into ``directory`` (created if needed)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.contiguous() for k, v in self.tensors.items()}
        # streamed to the file: a 3B model's weights are 2.8 GB, never held twice in memory
        atomic_write(out / TENSORS_NAME, lambda tmp: save_file(tensors, tmp))
        doc = _RecipeFile(
            format=FORMAT,
            version=VERSION,
            config=self.config,
            layers=list(self.layers.values()),
            tensors_sha256=_sha256(out / TENSORS_NAME),
            skipped=self.skipped,
        )
        atomic_write(out / JSON_NAME, doc.model_dump_json(indent=1).encode())
        return out

    @classmethod
    def load(cls, directory: str | os.PathLike) -> QuantRecipe:
        """Read and validate a recipe written by :meth:`save`."""
        src = Path(directory)
        for name in (JSON_NAME, TENSORS_NAME):
            if not (src / name).is_file():
                raise FileNotFoundError(f"{src} holds no {name}: not a panacea recipe directory")
        json_path, tensors_path = src / JSON_NAME, src / TENSORS_NAME
        try:
            doc = _RecipeFile.model_validate_json(_with_granularity(read_text(json_path, "recipe")), strict=True)
        except ValidationError as err:
            raise invalid_file(json_path, err, "not a valid panacea recipe") from err
        names = [layer.name for layer in doc.layers]
        for i, name in enumerate(names):
            if names.index(name) != i:
                raise input_error(json_path, f"{shown(name)} appears twice", field=f"layers.{i}.name")
        if _sha256(tensors_path) != doc.tensors_sha256:
            raise input_error(None, f"{tensors_path} does not match {json_path} (SHA-256 differs)")
        try:
            tensors = load_file(tensors_path)
            recipe = cls(doc.config, {layer.name: layer for layer in doc.layers}, tensors, doc.skipped)
            return recipe.validate()
        except (SafetensorError, ValueError) as err:
            raise input_error(f"{tensors_path} (checked against {json_path})", str(err)) from err
