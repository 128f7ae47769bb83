"""Sparsity capture: per-layer workloads and totals, consistent with the GEMM counts."""

from __future__ import annotations

import pytest
import torch
from tiny_models import tiny_llama, token_batches

import panacea
from panacea.core.slicing import act_vector_stored, ho_shift, sbr_zero_top_range, weight_vector_stored
from panacea.quant import CalibrationConfig, LayerOverride, calibrate, capture, quantized
from panacea.quant.inference import quantize_input
from panacea.quant.recipe import sym_act_bits


def _config(scheme: str, x_bits: int) -> CalibrationConfig:
    """The scheme with every layer's activations at ``x_bits`` (12: int16 integers, 10-bit for Sibia)."""
    overrides = (LayerOverride(pattern="*", x_bits=12),) if x_bits == 12 else ()
    if scheme == "asym":
        return CalibrationConfig(overrides=overrides)
    return CalibrationConfig(scheme="sym", zpm="off", dbs=False, overrides=overrides)


@pytest.mark.parametrize("x_bits", [8, 12])
@pytest.mark.parametrize("scheme", ["asym", "sym"])
def test_capture_records_every_layer_and_call(scheme, x_bits):
    model = tiny_llama()
    recipe = calibrate(model, token_batches(96), _config(scheme, x_bits))
    batches = token_batches(96, 2, seed=3)
    inputs: dict[str, list[torch.Tensor]] = {}
    with torch.no_grad(), quantized(model, recipe):
        mods = {m.layer.name: m for m in model.modules() if isinstance(m, panacea.quant.QuantizedGemm)}
        handles = [
            m.register_forward_pre_hook(lambda mod, a: inputs.setdefault(mod.layer.name, []).append(a[0]))
            for m in mods.values()
        ]
        with capture(model) as rec:
            for b in batches:
                model(b)
        for h in handles:
            h.remove()
    assert set(rec.layers) == set(recipe.layers)
    for name, cap in rec.layers.items():
        module = mods[name]
        assert cap.calls == 2 and cap.tokens == 2 * 2 * 16
        layer = module.layer
        per_call, stored, compressible = [], [], 0
        for x in inputs[name]:
            x_q = quantize_input(module.site.input_matrix(x), layer)
            if scheme == "asym":
                res = panacea.aqs_gemm(x_q, module.packed, layer.zero_point, x_bits=x_bits, lo_bits=layer.lo_bits)
                stored.append(act_vector_stored(x_q, layer.zero_point, x_bits, layer.lo_bits))
                top = ho_shift(x_bits, layer.lo_bits)
                compressible += int(((x_q >> top) == (layer.zero_point >> top)).sum())
            else:
                res = panacea.bitslice_gemm(x_q, module.packed, x_bits=sym_act_bits(x_bits))
                stored.append(weight_vector_stored(x_q, sym_act_bits(x_bits)))
                lo, hi = sbr_zero_top_range(sym_act_bits(x_bits))
                compressible += int(((x_q >= lo) & (x_q <= hi)).sum())
            per_call.append(res.counts)
        assert cap.workload.counts == per_call[0]
        assert torch.equal(cap.workload.act_stored, stored[0])  # the first call's integers, as they were
        assert cap.act_slices_compressed == compressible
        assert cap.counts == per_call[0] + per_call[1]
        w = cap.workload
        w_x_bits = sym_act_bits(x_bits) if scheme == "sym" else x_bits
        assert (w.n, w.k, w.m, w.groups, w.x_bits) == (32, layer.k, layer.m, 1, w_x_bits)
        assert w.act_stored.shape == (8, w.k) and w.act_stored.numel() == w.counts.act_vectors
        assert w.counts.act_vectors - int(w.act_stored.sum()) == w.counts.act_vectors_compressed
        assert 0.0 <= cap.act_slice_sparsity <= 1.0 and 0.0 <= cap.weight_slice_sparsity <= 1.0
        assert w.scheme == scheme and (w.zero_point is None) == (scheme == "sym")
    total = rec.total()
    assert total.mults == sum(c.counts.mults for c in rec.layers.values())
    act, weight = rec.mean_vector_sparsity()
    assert 0.0 <= act <= 1.0 and 0.0 <= weight <= 1.0


def test_capture_needs_a_quantized_model():
    with pytest.raises(ValueError, match="no quantized GEMM"), capture(tiny_llama()):
        pass


@pytest.mark.parametrize("scheme", ["asym", "sym"])
def test_fig18_variants_are_the_same_integers_in_the_other_format(scheme):
    """zero-only: the AQS-GEMM with r = 0 (only zero top slices skipped); sym-on-panacea: the signed
    activations shifted into the unsigned format with zero point 2^(x_bits - 1); same product."""
    model = tiny_llama()
    config = CalibrationConfig() if scheme == "asym" else CalibrationConfig(scheme="sym", zpm="off", dbs=False)
    recipe = calibrate(model, token_batches(96), config)
    batch = token_batches(96, 1, seed=5)[0]
    inputs: dict[str, torch.Tensor] = {}
    with torch.no_grad(), quantized(model, recipe):
        mods = {m.layer.name: m for m in model.modules() if isinstance(m, panacea.quant.QuantizedGemm)}
        for m in mods.values():
            m.register_forward_pre_hook(lambda mod, a: inputs.setdefault(mod.layer.name, a[0]))
        with capture(model, variants=True) as rec:
            model(batch)
    for name, cap in rec.layers.items():
        module = mods[name]
        x_q = quantize_input(module.site.input_matrix(inputs[name]), module.layer)
        ((variant, w),) = cap.variants.items()
        assert torch.equal(w.weight_stored, cap.workload.weight_stored)
        assert (w.n, w.k, w.m, w.w_bits, w.x_bits) == (cap.workload.n, cap.workload.k, cap.workload.m, 7, 8)
        if scheme == "asym":
            assert variant == "zero-only" and w.zero_point == 0 and w.lo_bits == module.layer.lo_bits
            ref = panacea.aqs_gemm(x_q, module.packed, 0, lo_bits=module.layer.lo_bits)
            assert ref.counts.compensation_mults == 0  # r = 0: nothing to compensate
        else:
            assert variant == "sym-on-panacea" and w.zero_point == 128 and w.lo_bits == 4
            x_u = x_q.to(torch.int32) + 128
            assert int(x_u.min()) >= 0 and int(x_u.max()) <= 255
            ref = panacea.aqs_gemm(x_u, module.packed, 128)
        assert w.counts == ref.counts
        assert w.counts.act_vectors - int(w.act_stored.sum()) == w.counts.act_vectors_compressed
