"""Sparsity capture: what every quantized GEMM of a run would cost the accelerator.

``with capture(qmodel) as rec:`` makes every :class:`QuantizedGemm` of ``qmodel`` compute through
the bit-slice GEMM of its scheme (AQS-GEMM for asymmetric activations, Sibia's for symmetric ones)
and report its counts. Per layer the recorder keeps the first call as a :class:`Workload` (shapes,
real vector masks, counts) for the cost models, and totals over all calls: the counts, and the
element-level top-slice ("slice") sparsity of both operands.

``capture(qmodel, variants=True)`` also keeps, per layer, the first call's integers in the formats
of the paper's Fig. 18 (:func:`fig18_variants`), for the cost models to compare on the same data.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from panacea.core.formats import ho_shift
from panacea.core.slicing import act_vector_stored, sbr_zero_top_count, weight_vector_stored
from panacea.gemm import GemmCounts
from panacea.quant.inference import QuantizedGemm
from panacea.quant.recipe import sym_act_bits
from panacea.workload import Workload
from panacea.workload.build import gemm_workload


@dataclass
class LayerCapture:
    """One layer over a run: its first call as a workload, and totals over every call."""

    workload: Workload
    calls: int
    tokens: int
    counts: GemmCounts
    act_slices: int
    act_slices_compressed: int
    weight_slices: int
    weight_slices_compressed: int
    variants: dict[str, Workload] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.workload.name

    @property
    def act_slice_sparsity(self) -> float:
        return self.act_slices_compressed / self.act_slices if self.act_slices else 0.0

    @property
    def weight_slice_sparsity(self) -> float:
        return self.weight_slices_compressed / self.weight_slices if self.weight_slices else 0.0


def _compressible_act_slices(x_q: torch.Tensor, module: QuantizedGemm) -> int:
    """Activation elements whose top slice is compressible (equal to ``r``; zero for Sibia).

    Every step works in place on one temporary: a fresh boolean tensor per step costs more than the
    step (its pages are faulted in anew on every call)."""
    layer = module.layer
    if layer.symmetric:
        return sbr_zero_top_count(x_q, sym_act_bits(layer.x_bits))
    # x >> ho_shift == r exactly when x ^ (r << ho_shift) < 2^ho_shift
    hs = ho_shift(layer.x_bits, layer.lo_bits)
    return int(torch.count_nonzero((x_q ^ ((layer.zero_point >> hs) << hs)).lt_(1 << hs)))


def fig18_variants(module: QuantizedGemm, x_q: torch.Tensor) -> dict[str, Workload]:
    """The same integers in the other format of the paper's Fig. 18, as a workload.

    - asymmetric layers: ``"zero-only"``, Panacea skipping only top slices that are zero (a
      bit-slice GEMM unaware of the zero point, Fig. 18(b)): the AQS-GEMM with ``r = 0``, i.e. the
      zero point's top slice taken as 0; the product is the same, so accuracy is too.
    - symmetric layers: ``"sym-on-panacea"``, the signed activations shifted by ``2^(x_bits - 1)``
      into Panacea's unsigned ``x_bits`` format with that zero point (128 for 8 bits; the paper's
      "symmetric quantization by setting every zero-point to 128", Fig. 18(a)), 4-bit low slices.
    """
    layer = module.layer
    opts = dict(
        w_bits=layer.w_bits,
        x_bits=layer.x_bits,
        vector=module.vector,
        index_bits=module.index_bits,
        groups=layer.groups,
        name=layer.name,
    )
    if layer.symmetric:
        offset = 1 << (layer.x_bits - 1)
        x_u = x_q.to(torch.int32) + offset
        return {"sym-on-panacea": gemm_workload(x_u, module.packed, offset, lo_bits=4, **opts)}
    return {"zero-only": gemm_workload(x_q, module.packed, 0, lo_bits=layer.lo_bits, **opts)}


class Recorder:
    """Collects :class:`LayerCapture` records from :class:`QuantizedGemm` modules (see module docs)."""

    def __init__(self, variants: bool = False):
        self.layers: dict[str, LayerCapture] = {}
        self.variants = variants

    def record(self, module: QuantizedGemm, x_q: torch.Tensor, counts: GemmCounts) -> None:
        layer = module.layer
        act_compressible = _compressible_act_slices(x_q, module)
        seen = self.layers.get(layer.name)
        if seen is not None:
            seen.calls += 1
            seen.tokens += x_q.shape[0]
            seen.counts = seen.counts + counts
            seen.act_slices += x_q.numel()
            seen.act_slices_compressed += act_compressible
            return
        symmetric = layer.symmetric
        x_bits = sym_act_bits(layer.x_bits) if symmetric else layer.x_bits
        if symmetric:
            act_stored = weight_vector_stored(x_q, x_bits, module.vector)  # SBR activations
        else:
            act_stored = act_vector_stored(x_q, layer.zero_point, layer.x_bits, layer.lo_bits, module.vector)
        w_stored = module.packed.mask.stored
        w_elems = module.w_q.numel() if layer.w_bits > 4 else 0
        w_zero = sbr_zero_top_count(module.w_q, layer.w_bits) if w_elems else 0
        workload = Workload(
            name=layer.name,
            scheme="sym" if symmetric else "asym",
            n=x_q.shape[0],
            k=layer.k,
            m=layer.m,
            groups=layer.groups,
            x_bits=x_bits,
            w_bits=layer.w_bits,
            lo_bits=layer.lo_bits,
            zero_point=None if symmetric else layer.zero_point,
            vector=module.vector,
            index_bits=module.index_bits,
            act_stored=act_stored,
            weight_stored=w_stored,
            counts=counts,
        )
        variants = fig18_variants(module, x_q) if self.variants else {}
        self.layers[layer.name] = LayerCapture(
            workload, 1, x_q.shape[0], counts, x_q.numel(), act_compressible, w_elems, w_zero, variants
        )

    def total(self) -> GemmCounts:
        """Counts of every captured call of every layer."""
        counts = [c.counts for c in self.layers.values()]
        if not counts:
            raise ValueError("nothing was captured: run the model inside the capture block")
        total = counts[0]
        for c in counts[1:]:
            total = total + c
        return total

    def mean_vector_sparsity(self) -> tuple[float, float]:
        """Unweighted means over layers of the activation and weight top-slice vector sparsity."""
        layers = list(self.layers.values())
        if not layers:
            raise ValueError("nothing was captured: run the model inside the capture block")
        act = sum(c.counts.act_vector_sparsity for c in layers) / len(layers)
        weight = sum(c.counts.weight_vector_sparsity for c in layers) / len(layers)
        return act, weight

    def workloads(self) -> list[Workload]:
        return [c.workload for c in self.layers.values()]


@contextlib.contextmanager
def capture(model: nn.Module, *, variants: bool = False) -> Iterator[Recorder]:
    """Record the bit-slice GEMM of every :class:`QuantizedGemm` of ``model`` while in the block
    (with ``variants``: also :func:`fig18_variants` of each layer's first call)."""
    modules = [m for m in model.modules() if isinstance(m, QuantizedGemm)]
    if not modules:
        raise ValueError("the model has no quantized GEMM: run it under panacea.quantized(model, recipe)")
    recorder = Recorder(variants)
    for m in modules:
        m.recorder = recorder
    try:
        yield recorder
    finally:
        for m in modules:
            m.recorder = None
