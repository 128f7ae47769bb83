"""Where a model runs: ``--device cpu|cuda|auto``.

On ``cuda`` the model's float parts, the observers, OPTQ and the exact integer GEMMs of quantized
inference (:func:`panacea.core.intmm.int_matmul` through ``torch._int_mm``, self-checked on the device
as on the CPU) run on the GPU; the bit-slice GEMMs under a capture (their masks, RLE sizes and
counts, which the cost models read) run on the CPU from the same integers, so every count is the
one the CPU path computes from those integers. Float matmuls use full FP32 (TF32 is switched
off): the float parts still round differently from the CPU's kernels, at the last bits, as any
two BLAS libraries do, so an activation on a rounding boundary can quantize to its neighbour.

The model is moved with ``model.to(device)``; inputs given on the CPU are moved to it by a
forward pre-hook on the model, and its outputs brought back to the CPU (metrics, captures and
results live there).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torch.utils._pytree import tree_map

Device = Literal["cpu", "cuda", "auto"]
DEVICES = ("cpu", "cuda", "auto")


def resolve_device(device: str) -> torch.device:
    """The torch device of a ``--device`` choice; ``cuda`` without CUDA is one clear error."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {list(DEVICES)}, got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        built = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise ValueError(
            f"device 'cuda' was asked but CUDA is not available here (torch {torch.__version__}, {built}): "
            "use --device cpu or auto"
        )
    return torch.device(device)


def model_device(model: nn.Module) -> torch.device:
    """The device of ``model``'s first parameter or buffer (the CPU for a model without any)."""
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return torch.device("cpu")


def _moved(tree, device: torch.device):
    return tree_map(lambda t: t.to(device) if isinstance(t, torch.Tensor) else t, tree)


def _outputs_to_cpu(out):
    if isinstance(out, dict):  # a Hugging Face ModelOutput: its fields in place, the type kept
        for key, value in out.items():
            out[key] = _moved(value, torch.device("cpu"))
        return out
    return _moved(out, torch.device("cpu"))


def on_device(model: nn.Module, device: torch.device) -> nn.Module:
    """Put ``model`` on ``device`` (module docs); on the CPU nothing changes. Returns ``model``."""
    if device.type == "cpu":
        return model
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    model.to(device)
    if not getattr(model, "_panacea_device_hooks", False):
        model.register_forward_pre_hook(
            lambda _m, args, kwargs: (_moved(args, model_device(model)), _moved(kwargs, model_device(model))),
            with_kwargs=True,
        )
        model.register_forward_hook(lambda _m, _args, out: _outputs_to_cpu(out))
        model._panacea_device_hooks = True
    return model
