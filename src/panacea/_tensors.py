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
