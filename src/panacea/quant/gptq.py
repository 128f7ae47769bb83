"""OPTQ / GPTQ (Frantar et al., ICLR 2023; paper ref. [46]) for symmetric narrow-range weights.

:func:`optq_quantize` is the canonical algorithm (IST-DASLab/gptq): columns are quantized one at a
time and each one's rounding error is spread over the columns not yet quantized through the
Cholesky factor of the inverse Hessian ``H = X^T X`` of the layer's calibration inputs, with
dampening (a fraction of the mean diagonal added to it), optional act-order (columns by decreasing
``H_ii``), dead columns zeroed, and lazy batch updates of ``block_size`` columns. Scales are fixed
before the error feedback starts (per output channel, or per group of ``group_size`` input
channels computed from the original weights: "static groups"), so act-order and groups combine.
It is batched over the groups of a grouped convolution, which are independent problems.

:func:`optq_weights` drives it over a model the sequential way: the inputs of the first repeated
block (transformer layer, EfficientNet block) are captured once, then block by block the Hessians
of its GEMMs are collected, its weights quantized, and its outputs recomputed with the quantized
weights to feed the next block; GEMMs outside the blocks are handled before and after. The
model's weights are restored afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from panacea.core.formats import weight_qmax
from panacea.models.gemms import GemmSite
from panacea.models.run import Batch, SameInput, find_blocks, forward, inference, input_hooks, output_head_needed
from panacea.models.streaming import compute_dtype
from panacea.quant.config import CalibrationConfig, LayerSettings, WGranularity
from panacea.quant.primitives import quantize_symmetric, symmetric_scale


def weight_scale(
    w: torch.Tensor, bits: int, group_size: int | None, granularity: WGranularity = "channel"
) -> torch.Tensor:
    """Symmetric scales of ``w[M, K]``, stored ``[M, 1]`` or, with ``group_size``, ``[M, ceil(K /
    group_size)]``: per output channel, per group, or (``granularity="tensor"``) one scale for the
    whole matrix repeated over that shape (a grouped convolution stores per-group columns)."""
    gs = None if group_size is None else min(group_size, w.shape[1])
    if granularity == "tensor":
        columns = 1 if gs is None else -(-w.shape[1] // gs)
        return symmetric_scale(w, bits, granularity="tensor").expand(w.shape[0], columns).contiguous()
    if gs is None:
        return symmetric_scale(w, bits, granularity="channel")
    return symmetric_scale(w, bits, granularity="group", group_size=gs)


def rtn_quantize(
    w: torch.Tensor, bits: int, group_size: int | None, granularity: WGranularity = "channel"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Round-to-nearest: integer weights and their scales (:func:`weight_scale`)."""
    scale = weight_scale(w, bits, group_size, granularity)
    gs = None if group_size is None else min(group_size, w.shape[1])
    return quantize_symmetric(w, scale, bits, group_size=gs), scale


def _column_scales(scale: torch.Tensor, k: int, group_size: int | None) -> torch.Tensor:
    if group_size is None:
        return scale.expand(-1, k)
    return scale.repeat_interleave(min(group_size, k), dim=1)[:, :k]


def optq_quantize(
    w: torch.Tensor,
    hessian: torch.Tensor,
    bits: int,
    *,
    group_size: int | None = None,
    granularity: WGranularity = "channel",
    damp: float = 0.01,
    act_order: bool = True,
    block_size: int = 128,
) -> tuple[torch.Tensor, torch.Tensor]:
    """OPTQ of ``w[M, groups * K]`` with per-group Hessians ``hessian[groups, K, K]``.

    Returns the integer weights (int8/int16, ``[M, groups * K]``) and their scales
    (:func:`weight_scale`), fixed from the original weights before the column sweep: per tensor,
    one scale of the whole matrix.
    """
    g, k, _ = hessian.shape
    m = w.shape[0]
    if w.shape[1] != g * k:
        raise ValueError(f"w has {w.shape[1]} columns, hessian describes {g} x {k}")
    if group_size is not None and g > 1 and k % group_size:
        raise ValueError(f"group_size {group_size} must divide the per-group K={k} of a grouped convolution")
    q = weight_qmax(bits)
    scale = weight_scale(w.float(), bits, group_size, granularity)
    col_scale = _column_scales(scale, g * k, group_size)

    def per_group(t: torch.Tensor) -> torch.Tensor:  # [M, g*k] -> [g, M, k]
        return t.reshape(m, g, k).permute(1, 0, 2).to(torch.float64).contiguous()

    wg, sg = per_group(w), per_group(col_scale)
    h = hessian.to(torch.float64).clone()
    diag = torch.diagonal(h, dim1=1, dim2=2)
    dead = diag == 0
    diag[dead] = 1.0
    wg.masked_fill_(dead.unsqueeze(1), 0.0)
    if act_order:
        perm = torch.argsort(diag, dim=1, descending=True)
        cols = perm.unsqueeze(1).expand(-1, m, -1)
        wg, sg = wg.gather(2, cols), sg.gather(2, cols)
        h = h.gather(1, perm.unsqueeze(2).expand(-1, -1, k)).gather(2, perm.unsqueeze(1).expand(-1, k, -1))
    diag = torch.diagonal(h, dim1=1, dim2=2)
    diag += damp * diag.mean(dim=1, keepdim=True)
    u = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)

    out = torch.zeros_like(wg)
    # The column loop is inherent to OPTQ (each column's error feeds the next); every step is a
    # vector operation over the output channels and convolution groups.
    for i1 in range(0, k, block_size):
        i2 = min(i1 + block_size, k)
        w1 = wg[:, :, i1:i2].clone()
        err1 = torch.zeros_like(w1)
        u1 = u[:, i1:i2, i1:i2]
        for i in range(i2 - i1):
            col, s = w1[:, :, i], sg[:, :, i1 + i]
            qcol = torch.clamp(torch.round(col / s), -q, q)
            out[:, :, i1 + i] = qcol
            err = (col - qcol * s) / u1[:, i, i].unsqueeze(1)
            w1[:, :, i:] -= err.unsqueeze(2) * u1[:, i, i:].unsqueeze(1)
            err1[:, :, i] = err
        wg[:, :, i2:] -= err1 @ u[:, i1:i2, i2:]
    if act_order:
        out = torch.zeros_like(out).scatter_(2, perm.unsqueeze(1).expand(-1, m, -1), out)
    w_q = out.permute(1, 0, 2).reshape(m, g * k)
    return w_q.to(torch.int8 if bits <= 8 else torch.int16), scale


# --------------------------------------------------------------------------- the model-level driver


class _Stop(Exception):
    """Raised by a hook to stop a forward pass once the first block's inputs are captured."""


class _Hessians:
    """Streaming ``X^T X`` per GEMM site (per convolution group), shared by sites with one input."""

    def __init__(self, sites: Sequence[GemmSite]):
        self.sites = list(sites)
        self.h: dict[str, torch.Tensor] = {}
        self._seen = SameInput()

    def __call__(self, site: GemmSite, x: torch.Tensor) -> None:
        memo = self._seen.get(x) or {}
        key = (site.kind, site.groups, site.k)  # the same tensor read the same way
        if key not in memo:
            cols = site.input_matrix(x).to(torch.float64).reshape(-1, site.groups, site.k).transpose(0, 1)
            memo[key] = cols.transpose(1, 2) @ cols
            self._seen.put(x, memo)
        update = memo[key]
        self.h[site.name] = self.h[site.name] + update if site.name in self.h else update.clone()

    def next_batch(self) -> None:
        self._seen.clear()


@contextlib.contextmanager
def _weights_swapped(originals: dict[nn.Module, torch.Tensor]) -> Iterator[None]:
    try:
        yield
    finally:
        for module, weight in originals.items():
            module.weight.data = weight


def _set_dequantized(site: GemmSite, w_q: torch.Tensor, scale: torch.Tensor, group_size: int | None, originals):
    """Put the dequantized weights into the module, remembering the original (in the dtype the
    module computes in: float32 for a streamed block, which its hooks then leave as it is)."""
    dtype = compute_dtype(site.module.weight)
    w = (w_q.to(torch.float32) * _column_scales(scale, w_q.shape[1], group_size)).to(dtype)
    originals.setdefault(site.module, site.module.weight.data)
    if site.kind == "linear":
        site.module.weight.data = w
    elif site.kind == "conv1d":
        site.module.weight.data = w.t().contiguous()
    else:
        g, kk = site.groups, site.k
        site.module.weight.data = w.reshape(site.m, g, kk).permute(1, 0, 2).reshape(site.module.weight.shape)


def optq_weights(
    model: nn.Module,
    sites: Sequence[GemmSite],
    settings: dict[str, LayerSettings],
    batches: Sequence[Batch],
    config: CalibrationConfig,
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """OPTQ for every site, block by block (see the module docstring); weights are restored."""
    sweep = _Sweep(model, settings, batches, config)
    with inference(model), _weights_swapped(sweep.originals):
        found = find_blocks(model, sites)
        if found is None:
            sweep.quantize_on_batches(sites)
            return sweep.result
        blocks, block_sites = found
        in_blocks = {s.name for group in block_sites for s in group}
        outside = [s for s in sites if s.name not in in_blocks]
        inputs = sweep.first_block_inputs(blocks[0], outside)
        sweep.through_blocks(blocks, block_sites, inputs)
        after = [s for s in outside if s.name not in sweep.result]
        if after:
            sweep.quantize_on_batches(after)
    return sweep.result


_Inputs = list[tuple[tuple, dict]]  # a block's positional and keyword arguments, per batch


@dataclass
class _Sweep:
    """One sequential OPTQ pass over a model (module docs): the weights quantized so far
    (``result``) and the originals of the modules whose weights it replaced."""

    model: nn.Module
    settings: dict[str, LayerSettings]
    batches: Sequence[Batch]
    config: CalibrationConfig
    result: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    originals: dict[nn.Module, torch.Tensor] = field(default_factory=dict)

    def quantize(self, group: Sequence[GemmSite], hessians: _Hessians) -> None:
        """OPTQ of each site of ``group`` on its Hessian; the module then computes with the result."""
        for site in group:
            if site.name not in hessians.h:
                raise ValueError(f"GEMM {site.name!r} never ran on the calibration batches")
            s = self.settings[site.name]
            w_q, scale = optq_quantize(
                site.weight_matrix().float(),
                hessians.h[site.name],
                s.w_bits,
                group_size=s.w_group_size,
                granularity=s.w_granularity,
                damp=self.config.optq_damp,
                act_order=self.config.optq_act_order,
                block_size=self.config.optq_block_size,
            )
            self.result[site.name] = (w_q, scale)
            _set_dequantized(site, w_q, scale, s.w_group_size, self.originals)

    def quantize_on_batches(self, group: Sequence[GemmSite]) -> None:
        """``group`` quantized on Hessians from whole-model passes over the batches."""
        logits = output_head_needed(self.model, group)
        self.quantize(group, _collect(group, [lambda b=b: forward(self.model, b, logits=logits) for b in self.batches]))

    def first_block_inputs(self, first: nn.Module, outside: Sequence[GemmSite]) -> _Inputs:
        """The first block's inputs; GEMMs that run before it get their Hessians meanwhile and are
        quantized, then the inputs are captured again so the block sees their quantized outputs."""
        inputs, before = _capture(self.model, first, outside, self.batches)
        ran_before = [s for s in outside if s.name in before.h]
        if ran_before:
            self.quantize(ran_before, before)
            inputs, _ = _capture(self.model, first, (), self.batches)
        return inputs

    def through_blocks(
        self, blocks: Sequence[nn.Module], block_sites: Sequence[Sequence[GemmSite]], inputs: _Inputs
    ) -> None:
        """Block by block: its GEMMs quantized on its inputs, then its outputs (computed with the
        quantized weights) are the next block's inputs."""
        for block, group in zip(blocks, block_sites, strict=True):
            if group:
                self.quantize(group, _collect(group, [lambda a=a, kw=kw, b=block: b(*a, **kw) for a, kw in inputs]))
            outputs = [block(*a, **kw) for a, kw in inputs]
            inputs = [
                ((o[0] if isinstance(o, (tuple, list)) else o, *a[1:]), kw)
                for o, (a, kw) in zip(outputs, inputs, strict=True)
            ]


def _collect(group: Sequence[GemmSite], calls) -> _Hessians:
    """The Hessians of ``group``'s GEMMs over ``calls`` (one batch each)."""
    hessians = _Hessians(group)
    with input_hooks(group, hessians):
        for call in calls:
            call()
            hessians.next_batch()
    return hessians


def _capture(
    model: nn.Module, first: nn.Module, hook_sites: Sequence[GemmSite], batches: Sequence[Batch]
) -> tuple[_Inputs, _Hessians]:
    """The inputs of block ``first`` per batch (each pass stops there) and the Hessians of
    ``hook_sites`` that ran before it."""
    captured: _Inputs = []

    def stop(_m, args, kwargs):
        captured.append((args, kwargs))
        raise _Stop

    hessians = _Hessians(hook_sites)
    handle = first.register_forward_pre_hook(stop, with_kwargs=True)
    try:
        with input_hooks(hook_sites, hessians):
            for b in batches:
                with contextlib.suppress(_Stop):
                    forward(model, b)
                hessians.next_batch()
    finally:
        handle.remove()
    return captured, hessians


__all__ = ["optq_quantize", "optq_weights", "rtn_quantize", "weight_scale"]
