"""Finding the GEMMs of a model and reading them as ``[N, K] x [M, K]^T`` products.

Supported GEMM sites (stable names: the module's qualified name in ``model.named_modules()``):

- ``nn.Linear``: ``K = in_features``, ``M = out_features``, ``N`` = all leading dimensions;
- Hugging Face ``Conv1D`` (GPT-2): a linear layer that stores its weight transposed;
- ``nn.Conv2d`` as an im2col GEMM: ``K = C_in / groups * kh * kw``, ``M = C_out / groups``,
  ``N = batch * H_out * W_out``. A grouped convolution is ``groups`` GEMMs side by side; we keep
  them *stacked along K* (the im2col column order): the activation matrix is ``[N, groups * K]``
  and the weight matrix ``[M, groups * K]``, column block ``g`` belonging to group ``g``. Depthwise
  convolutions are the case ``groups = C_in``. ``Conv2d`` subclasses that pad in their forward
  (efficientnet-pytorch's ``Conv2dStaticSamePadding``) keep that padding.

Every other module that owns a weight of two or more dimensions (and is not an embedding or a
normalisation) is listed as unsupported, never dropped silently; so is ``nn.MultiheadAttention``,
which multiplies with its projection weights without calling its submodules. Products of two activations
(attention scores) have no weights and are not GEMM sites here.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from panacea.models.memory import drop_pages, on_disk

GemmKind = Literal["linear", "conv1d", "conv2d"]

# Modules with 2-D+ weights that are not GEMMs over their input (lookups, normalisations).
_NOT_GEMMS = (nn.Embedding, nn.EmbeddingBag, nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._BatchNorm)


def _is_hf_conv1d(module: nn.Module) -> bool:
    # transformers.pytorch_utils.Conv1D, matched by name so that transformers stays optional here
    return type(module).__name__ == "Conv1D" and hasattr(module, "nf") and getattr(module, "weight", None) is not None


def _static_padding(module: nn.Conv2d) -> nn.Module | None:
    """The pre-padding module of a Conv2d subclass that pads in its forward, if it is one we know."""
    pad = getattr(module, "static_padding", None)
    return pad if isinstance(pad, nn.Module) else None


def _conv2d_supported(module: nn.Module) -> bool:
    if not isinstance(module, nn.Conv2d) or module.padding_mode != "zeros":
        return False
    return type(module).forward is nn.Conv2d.forward or _static_padding(module) is not None


@dataclass(frozen=True)
class GemmSite:
    """One GEMM of a model: a module and how to read it as ``[N, groups*K] x [M, groups*K]^T``."""

    name: str
    kind: GemmKind
    module: nn.Module = field(repr=False, compare=False)
    k: int  # reduction length per group
    m: int  # outputs per group
    groups: int = 1

    @property
    def out_features(self) -> int:
        return self.m * self.groups

    def weight_matrix(self) -> torch.Tensor:
        """The float weights as ``[M, groups * K]`` (group ``g`` in column block ``g``); a streamed
        block's weights (:mod:`panacea.models.streaming`) come widened to float32 and their pages
        are dropped again (:func:`panacea.models.memory.drop_pages`)."""
        w = self.module.weight.detach()
        if w.dtype in (torch.bfloat16, torch.float16) and on_disk(self.module.weight):
            w = w.to(torch.float32)
            drop_pages(self.module.weight)
        if self.kind == "linear":
            return w
        if self.kind == "conv1d":
            return w.t()
        g = self.groups
        return w.reshape(g, self.m, self.k).permute(1, 0, 2).reshape(self.m, g * self.k)

    def input_matrix(self, x: torch.Tensor) -> torch.Tensor:
        """The module's input as the GEMM's activation matrix ``[N, groups * K]``."""
        if self.kind != "conv2d":
            return x.reshape(-1, x.shape[-1])
        conv: nn.Conv2d = self.module
        pad = _static_padding(conv)
        if pad is not None:
            x = pad(x)
        cols = nn.functional.unfold(x, conv.kernel_size, conv.dilation, conv.padding, conv.stride)
        return cols.transpose(1, 2).reshape(-1, cols.shape[1])

    def output_from_matrix(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Reshape a GEMM result ``[N, groups * M]`` (group-major columns) to the module's output."""
        if self.kind != "conv2d":
            return y.reshape(*x.shape[:-1], y.shape[-1])
        conv: nn.Conv2d = self.module
        pad = _static_padding(conv)
        h, w = x.shape[-2:]
        if pad is not None:  # any padding module: its effect on the size, computed without data
            h, w = pad(torch.empty((1, 1, h, w), device="meta")).shape[-2:]
        h_out, w_out = (
            (size + 2 * p - d * (kk - 1) - 1) // s + 1
            for size, p, d, kk, s in zip(
                (h, w), conv.padding, conv.dilation, conv.kernel_size, conv.stride, strict=True
            )
        )
        return y.reshape(x.shape[0], h_out, w_out, y.shape[-1]).permute(0, 3, 1, 2)


@dataclass(frozen=True)
class GemmInventory:
    """The GEMM sites of a model and the weighted modules it could not read as GEMMs."""

    sites: list[GemmSite]
    unsupported: list[tuple[str, str]]  # (name, type)
    skipped: list[str]

    def __iter__(self):
        return iter(self.sites)

    def __len__(self) -> int:
        return len(self.sites)

    def by_name(self) -> dict[str, GemmSite]:
        return {s.name: s for s in self.sites}


def _site(name: str, module: nn.Module) -> GemmSite | None:
    if isinstance(module, nn.Linear):
        return GemmSite(name, "linear", module, module.in_features, module.out_features)
    if _is_hf_conv1d(module):
        k, m = module.weight.shape
        return GemmSite(name, "conv1d", module, k, m)
    if _conv2d_supported(module):
        g = module.groups
        kh, kw = module.kernel_size
        return GemmSite(name, "conv2d", module, module.in_channels // g * kh * kw, module.out_channels // g, g)
    return None


def find_gemms(model: nn.Module, *, skip: tuple[str, ...] = ()) -> GemmInventory:
    """All GEMM sites of ``model`` in ``named_modules()`` order.

    ``skip`` holds glob patterns of module names to leave out (e.g. ``"lm_head"``); they are
    reported in ``skipped``. Weighted modules that are not supported GEMMs are in ``unsupported``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    sites, unsupported, skipped = [], [], []
    # nn.MultiheadAttention multiplies with its weights (out_proj's included) without calling its
    # submodules: the whole module is unsupported, and nothing inside it is a site.
    opaque = [name for name, module in model.named_modules() if isinstance(module, nn.MultiheadAttention)]
    for name, module in model.named_modules():
        if any(name.startswith(f"{o}.") for o in opaque):
            continue
        if isinstance(module, nn.MultiheadAttention):
            unsupported.append((name, type(module).__name__))
            continue
        site = _site(name, module)
        if site is not None:
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in skip):
                skipped.append(name)
            else:
                sites.append(site)
            continue
        if isinstance(module, _NOT_GEMMS):
            continue
        own = [p for p in module.parameters(recurse=False) if p.ndim >= 2]
        if own:
            unsupported.append((name, type(module).__name__))
    return GemmInventory(sites, unsupported, skipped)
