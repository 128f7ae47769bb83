"""Quantized inference: every GEMM of a model computes on integers as the accelerator would.

:class:`QuantizedGemm` replaces a GEMM module. Per call it quantizes the input with the layer's
static scale and zero point (asymmetric unsigned, ZPM's zero point, DBS's dropped LSBs; or
symmetric signed for the Sibia scheme), multiplies the integers exactly with the integer weights,
and dequantizes with the zero-point term folded into the bias (eq. 3):

    y = s_x s_w (acc - z' W 1) + b,        z' = zero_point - dbs_truncation_bias(lo_bits)

so accuracy numbers carry every loss the hardware has. Per-group weight scales (OPTQ groups) give
one integer GEMM per weight group; grouped convolutions one per convolution group.

:func:`quantize` swaps the modules in place; :func:`quantized` does it for the duration of a
``with`` block and restores the model afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from panacea.core.formats import weight_qmax
from panacea.core.intmm import exact_matmul
from panacea.core.slicing import dbs_truncate
from panacea.gemm import GemmCounts, PackedWeights, aqs_counts, bitslice_counts, pack_weights
from panacea.models.gemms import GemmSite, find_gemms
from panacea.quant.dbs import dbs_truncation_bias
from panacea.quant.recipe import LayerRecipe, QuantRecipe, sym_act_bits


def dequantize_gemm(
    acc: torch.Tensor,
    layer: LayerRecipe,
    row_sums: torch.Tensor,
    w_scale: torch.Tensor,
    *,
    centred: bool = False,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Float32 result of an integer GEMM ``acc[N, C]`` (per output column: ``row_sums[C]`` = the
    integer weights' sums, ``w_scale[C]``), with the zero-point and DBS terms folded in.

    ``acc`` holds exact integers in any dtype (int32, int64, float32, float64); ``centred``: it is
    already ``(x_q - zero_point) W^T`` (:func:`panacea.core.intmm.exact_matmul` with the zero point as
    offset). The arithmetic is float64 whatever the dtype, rounded to float32 once, written into
    ``out`` when given (it may be ``acc`` itself).
    """
    scale = layer.x_scale * w_scale.to(torch.float64)
    y = acc.to(torch.float64, copy=True)
    if not layer.symmetric:
        if not centred:
            y -= (layer.zero_point * row_sums).to(torch.float64)
        bias = dbs_truncation_bias(layer.lo_bits)
        if bias:
            y += bias * row_sums.to(torch.float64)
    y *= scale
    return y.to(torch.float32) if out is None else out.copy_(y)


def _dequantized_into(acc: torch.Tensor, layer: LayerRecipe, row_sums: torch.Tensor, w_scale: torch.Tensor):
    """:func:`dequantize_gemm` of a centred product that is a temporary: written into it when it
    is float32."""
    return dequantize_gemm(acc, layer, row_sums, w_scale, centred=True, out=acc if acc.dtype == torch.float32 else None)


def quantize_input(cols: torch.Tensor, layer: LayerRecipe) -> torch.Tensor:
    """The activation integers the hardware receives: asymmetric with DBS truncation, or symmetric."""
    t = cols / layer.x_scale  # a temporary of its own: the steps below work in place
    t.round_()
    if layer.symmetric:
        q = layer.x_qmax
        return t.clamp_(-q, q).to(torch.int8 if q < 128 else torch.int16)
    x_q = t.add_(layer.zero_point).clamp_(0, layer.x_qmax).to(torch.uint8 if layer.x_bits == 8 else torch.int16)
    return dbs_truncate(x_q, layer.lo_bits, layer.x_bits)


class QuantizedGemm(nn.Module):
    """A GEMM module computing on integers exactly as the accelerator would (module docstring)."""

    def __init__(
        self,
        site: GemmSite,
        layer: LayerRecipe,
        w_q: torch.Tensor,
        w_scale: torch.Tensor,
        *,
        vector: int = 4,
        index_bits: int = 4,
    ):
        super().__init__()
        self.site = site  # a dataclass: the original module is not registered as a submodule
        self.layer = layer
        self.vector, self.index_bits = vector, index_bits
        device = site.module.weight.device  # the model's (panacea.models.device): the integer GEMMs run there
        w_q, w_scale = w_q.to(device), w_scale.to(device)
        self.register_buffer("w_q", w_q)
        self.register_buffer("w_scale", w_scale.to(torch.float32))
        bias = getattr(site.module, "bias", None)
        self.register_buffer("bias", None if bias is None else bias.detach().to(torch.float32))
        groups, m, k = layer.groups, layer.m, layer.k
        if groups > 1:  # per output channel (g, m) over its own K: columns in channel order g*M + m
            self._row_sums = w_q.to(torch.int64).reshape(m, groups, k).sum(dim=2).t().reshape(-1)
            self._col_scale = w_scale.t().reshape(-1)
        else:
            size = layer.w_group_size or k
            self._parts = [slice(c, min(c + size, k)) for c in range(0, k, size)]
            self._part_sums = [w_q[:, p].sum(dim=1, dtype=torch.int64) for p in self._parts]
        self._x_range = (-layer.x_qmax, layer.x_qmax) if layer.symmetric else (0, layer.x_qmax)
        q = weight_qmax(layer.w_bits)
        self._w_range = (-q, q)
        self._packed: PackedWeights | None = None
        self.recorder = None  # a capture.Recorder, when capturing

    @property
    def packed(self) -> PackedWeights:
        """The weights packed for the bit-slice GEMMs (built on first use)."""
        if self._packed is None:
            self._packed = pack_weights(
                self.w_q.cpu(), bits=self.layer.w_bits, vector=self.vector, index_bits=self.index_bits
            )
        return self._packed

    def counts(self, x_q: torch.Tensor) -> GemmCounts:
        """The counts of the accelerator's bit-slice GEMM on ``x_q`` (on the CPU, where the bit-slice
        GEMMs run): the AQS-GEMM for asymmetric activations, Sibia's for symmetric ones."""
        layer = self.layer
        if layer.symmetric:
            return bitslice_counts(x_q, self.packed, x_bits=sym_act_bits(layer.x_bits), groups=layer.groups)
        return aqs_counts(
            x_q, self.packed, layer.zero_point, x_bits=layer.x_bits, lo_bits=layer.lo_bits, groups=layer.groups
        )

    def _dequantized(self, x_q: torch.Tensor) -> torch.Tensor:
        """The float result through the exact integer GEMM, on ``x_q``'s device: the GEMM forms
        ``(x_q - z) W^T`` directly, and its product is dequantized in its own buffer where it is
        float32 (a temporary of this call)."""
        layer, device = self.layer, x_q.device
        w_q, w_scale = self.w_q.to(device), self.w_scale.to(device)
        ranges = dict(a_range=self._x_range, b_range=self._w_range, offset=0 if layer.symmetric else layer.zero_point)
        if layer.groups > 1:
            acc = exact_matmul(x_q, w_q, groups=layer.groups, **ranges)
            return _dequantized_into(acc, layer, self._row_sums.to(device), self._col_scale.to(device))
        y = None
        for j, (part, sums) in enumerate(zip(self._parts, self._part_sums, strict=True)):
            sums = sums.to(device)
            acc = exact_matmul(x_q[:, part], w_q[:, part], b_rowsum=sums, **ranges)
            term = _dequantized_into(acc, layer, sums, w_scale[:, j])
            y = term if y is None else y.add_(term)
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cols = self.site.input_matrix(x.to(torch.float32))
        x_q = quantize_input(cols, self.layer)
        y = self._dequantized(x_q)
        if self.recorder is not None:
            x_cpu = x_q.cpu()
            self.recorder.record(self, x_cpu, self.counts(x_cpu))
        if self.bias is not None:
            y += self.bias
        return self.site.output_from_matrix(y, x).to(x.dtype)


def _modules(model: nn.Module, recipe: QuantRecipe) -> dict[str, QuantizedGemm]:
    sites = find_gemms(model).by_name()
    missing = [n for n in recipe.layers if n not in sites]
    if missing:
        raise ValueError(f"the recipe names GEMMs the model does not have: {missing[:5]}")
    out = {}
    for name, layer in recipe.layers.items():
        site = sites[name]
        if (site.kind, site.k, site.m, site.groups) != (layer.kind, layer.k, layer.m, layer.groups):
            raise ValueError(
                f"recipe layer {name!r} is a {layer.kind} [{layer.m} x {layer.groups}x{layer.k}], "
                f"the model's is a {site.kind} [{site.m} x {site.groups}x{site.k}]"
            )
        w_q, w_scale = recipe.weight(name)
        out[name] = QuantizedGemm(
            site, layer, w_q, w_scale, vector=recipe.config.vector, index_bits=recipe.config.index_bits
        )
    return out


def swap_module(model: nn.Module, name: str, new: nn.Module) -> nn.Module:
    """Put ``new`` in place of the submodule ``name`` of ``model``; returns the old one."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    old = getattr(parent, child)
    setattr(parent, child, new)
    return old


def quantize(model: nn.Module, recipe: QuantRecipe) -> nn.Module:
    """Replace every GEMM of the recipe with its :class:`QuantizedGemm`, in place; returns ``model``."""
    for name, module in _modules(model, recipe).items():
        swap_module(model, name, module)
    return model


@contextlib.contextmanager
def quantized(model: nn.Module, recipe: QuantRecipe) -> Iterator[nn.Module]:
    """``with quantized(model, recipe) as qmodel:`` runs ``model`` quantized, then restores it."""
    originals = {name: swap_module(model, name, module) for name, module in _modules(model, recipe).items()}
    try:
        yield model
    finally:
        for name, module in originals.items():
            swap_module(model, name, module)
