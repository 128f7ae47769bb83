"""A real layer's integer operands for the PEA's test vectors: the model calibrated through the
one pipeline (:mod:`panacea.flows.pipeline`), the layer's first quantized call kept."""

from __future__ import annotations

import torch

from panacea.flows.pipeline import RunConfig, SchemePipeline
from panacea.models.run import forward
from panacea.quant import quantized
from panacea.quant.inference import QuantizedGemm
from panacea.rtl.vectors import W_BITS, X_BITS, LayerOperands


class _FirstCall:
    """A :class:`~panacea.quant.inference.QuantizedGemm` recorder keeping its first input."""

    def __init__(self):
        self.x_q: torch.Tensor | None = None

    def record(self, module, x_q, counts) -> None:
        if self.x_q is None:
            self.x_q = x_q.clone()


def layer_operands(model: str, layer: str, *, tokens: int = 512, scheme: str = "dbs") -> LayerOperands:
    """Calibrate ``model`` with ``scheme`` (profile ``accurate``) on ``tokens`` tokens of its
    calibration data and return the integer operands of ``layer``'s GEMM on the first batch of
    them (``tokens`` up to 512: one window)."""
    config = RunConfig(model, (scheme,), tokens=tokens, calib_tokens=tokens, seqlen=min(tokens, 512), batch_size=1)
    pipeline = SchemePipeline(config)
    lm, task = pipeline.lm, pipeline.task
    recipe = pipeline.calibrate()[scheme]
    if layer not in recipe.layers:
        raise ValueError(f"layer: {layer!r} is not a quantized GEMM of {model}; e.g. {sorted(recipe.layers)[:4]}")
    spec = recipe.layers[layer]
    if spec.w_bits != W_BITS or spec.x_bits != X_BITS or spec.symmetric or spec.groups != 1:
        raise ValueError(
            f"layer: {layer!r} has {spec.w_bits}-bit weights and {spec.x_bits}-bit activations; the PEA "
            f"vectors take the paper's W7A8 asymmetric GEMMs (two slices each, one group)"
        )
    grab = _FirstCall()
    with torch.no_grad(), quantized(lm.model, recipe) as qmodel:
        module = dict(qmodel.named_modules())[layer]
        assert isinstance(module, QuantizedGemm)
        module.recorder = grab
        try:
            forward(qmodel, task.batches[0], logits=False)
        finally:
            module.recorder = None
    return LayerOperands(model, layer, grab.x_q, module.w_q.cpu(), spec.zero_point, spec.lo_bits)
