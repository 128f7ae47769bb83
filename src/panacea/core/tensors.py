"""Small tensor helpers shared across modules."""

from __future__ import annotations

import torch


def row_major(t: torch.Tensor) -> torch.Tensor:
    """A 2-D ``t`` with canonical row-major strides (a copy only when needed).

    ``is_contiguous()`` accepts any stride on a size-1 dimension (e.g. a one-row slice, or 0 after
    ``expand``), which dtype views reject and ``torch._int_mm`` mishandles on CPU
    (pytorch/pytorch#195066), so compare the strides themselves.
    """
    if t.stride() == (t.shape[1], 1):
        return t
    return t.clone(memory_format=torch.contiguous_format)


def count_true(mask: torch.Tensor, dim: int) -> torch.Tensor:
    """How many entries of the bool ``mask`` are set along ``dim``, float64 (exact below 2^24 per
    count). Summing the bytes as float32 is 3-4x faster on CPU than torch's or numpy's bool sums
    (``benchmarks/bench_hw.py`` spends much of its time counting stored vectors)."""
    return mask.view(torch.uint8).to(torch.float32).sum(dim).double()
