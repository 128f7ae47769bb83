"""Block-streamed models: weights kept in their compact stored dtype, one block in float32 at a time.

GPTQ-style tools fit a model much larger than memory by working on one transformer block at a
time. Here every pass of panacea (observers, the ZPM search, OPTQ, quantized scoring, capture)
already runs block after block, so the same effect comes from where the weights live:
:func:`stream_blocks` leaves the parameters of the model's repeated blocks (:func:`find_blocks`:
transformer layers, EfficientNet blocks) in the dtype the checkpoint stores (bfloat16 / float16),
and a forward pre-hook on each block materialises that block's floating parameters and buffers in
float32 for the duration of its forward, releasing the previous block's copy first (so a pass
stopped inside a block, as OPTQ's input capture is, still holds one block at most). Everything
outside the blocks (embeddings, final norm, output head, a CNN's stem) is float32 throughout, so
activations, hooks and ``model.dtype`` are float32 as in the whole-model path.

Weights a checkpoint's safetensors file holds in the stored dtype are views of its memory mapping:
those of the blocks are kept out of resident memory between uses (:func:`panacea.models.memory.keep_on_disk`:
their pages are dropped after a block has run, or after :meth:`GemmSite.weight_matrix` has read them,
and fault in again from the file), so the process holds the float32 parts, the block at work and
what it computed (a Llama-3.2-3B: 1.6 GB of float32 embeddings instead of 12.8 GB of weights).

Exactness: widening bfloat16 or float16 to float32 is exact, so a block computes on the very
float32 values a whole-model load (``dtype=torch.float32``) of the same checkpoint gives; the
streamed and whole paths produce the same integers and metrics (tested). Code that reads a
streamed weight outside a forward (``GemmSite.weight_matrix()``) gets the compact tensor and
widens it itself; code that writes weights for a forward (OPTQ's dequantized weights) writes
float32 (:func:`compute_dtype`), which the hooks leave alone.
"""

from __future__ import annotations

import weakref

import torch
from torch import nn

from panacea.models.gemms import find_gemms
from panacea.models.memory import drop_pages, keep_on_disk
from panacea.models.run import find_blocks

COMPACT = (torch.bfloat16, torch.float16)
# Parameters and buffers kept compact between forwards, by id (a tensor's == is elementwise).
_STREAMED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _tensors(module: nn.Module) -> list[torch.Tensor]:
    """The floating parameters and buffers of ``module`` and its submodules (each once)."""
    seen: dict[int, torch.Tensor] = {}
    for t in (*module.parameters(), *module.buffers()):
        if t.is_floating_point():
            seen.setdefault(id(t), t)
    return list(seen.values())


class _Materialiser:
    """The hooks of one streamed model: which block holds float32 copies, and their compact originals."""

    def __init__(self):
        self.current: list[tuple[torch.Tensor, torch.Tensor]] = []

    def materialise(self, block: nn.Module) -> None:
        self.release()
        for t in _tensors(block):
            if is_streamed(t) and t.dtype in COMPACT:
                self.current.append((t, t.data))
                t.data = t.data.to(torch.float32)

    def release(self) -> None:
        for t, compact in self.current:
            if t.dtype == torch.float32:  # unless someone put their own weights in meanwhile
                t.data = compact
                drop_pages(t)
        self.current = []


class StreamedBlocks:
    """Handle of :func:`stream_blocks`: ``blocks`` streamed; :meth:`remove` undoes the hooks
    (the weights stay compact)."""

    def __init__(self, blocks: list[nn.Module], handles: list, materialiser: _Materialiser):
        self.blocks, self._handles, self._materialiser = blocks, handles, materialiser

    def release(self) -> None:
        """Drop the float32 copy of the block that ran last (the hooks do it at the next block)."""
        self._materialiser.release()

    def remove(self) -> None:
        self.release()
        for h in self._handles:
            h.remove()


def stream_blocks(model: nn.Module, dtype: torch.dtype | None = None) -> StreamedBlocks | None:
    """Stream the repeated blocks of ``model`` (module docs): their floating tensors stay in their
    own dtype, or are converted to ``dtype`` (bfloat16 or float16: lossy, the caller's choice) if
    given; everything else is converted to float32. ``None`` (and ``model`` all float32) when the
    model has no repeated blocks to stream."""
    if dtype is not None and dtype not in COMPACT:
        raise ValueError(f"dtype must be torch.bfloat16 or torch.float16, got {dtype}")
    found = find_blocks(model, find_gemms(model).sites)
    blocks = list(found[0]) if found is not None else []
    inside = {id(t) for b in blocks for t in _tensors(b)}
    for t in _tensors(model):
        if id(t) in inside:
            if dtype is not None:
                t.data = t.data.to(dtype)
            if t.dtype in COMPACT:
                _STREAMED[id(t)] = t
        elif t.dtype != torch.float32:
            t.data = t.data.to(torch.float32)
    if not blocks:
        return None
    keep_on_disk([t for t in _tensors(model) if is_streamed(t)])
    materialiser = _Materialiser()
    handles = []
    for block in blocks:
        handles.append(block.register_forward_pre_hook(lambda m, _args: materialiser.materialise(m)))
        handles.append(block.register_forward_hook(lambda _m, _args, _out: materialiser.release()))
    return StreamedBlocks(blocks, handles, materialiser)


def is_streamed(t: torch.Tensor) -> bool:
    """Whether ``t`` (a parameter or buffer) is kept compact between forwards by :func:`stream_blocks`."""
    return _STREAMED.get(id(t)) is t


def compute_dtype(t: torch.Tensor) -> torch.dtype:
    """The dtype ``t`` has while its module computes: float32 for a streamed tensor, else its own."""
    return torch.float32 if is_streamed(t) else t.dtype
