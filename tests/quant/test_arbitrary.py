"""The arbitrary quantizer on real (config-built) models: codebooks per tensor, exact code GEMMs."""

from __future__ import annotations

import pytest
import torch
from tiny_models import TinyCNN, tiny_llama

import panacea.hw as hw
from panacea.aq import codebook as cb
from panacea.aq.arith import bitserial_gemm
from panacea.models.gemms import find_gemms
from panacea.quant.arbitrary import AQConfig, aq_quantized, calibrate_aq
from panacea.workload.codec import workloads_from_bytes, workloads_to_bytes


@pytest.fixture(scope="module")
def llama():
    model = tiny_llama()
    batches = [torch.randint(0, 96, (2, 16), generator=torch.Generator().manual_seed(i)) for i in range(3)]
    return model, batches, calibrate_aq(model, batches)


def test_every_gemm_but_the_head_gets_fitted_codebooks(llama):
    model, _, layers = llama
    sites = find_gemms(model, skip=("lm_head",)).by_name()
    assert set(layers) == set(sites)
    for name, layer in layers.items():
        assert (layer.w_cb.kind, layer.w_cb.bits, layer.x_cb.kind, layer.x_cb.bits) == ("kmeans", 4, "uniform", 8)
        w = sites[name].weight_matrix().double()
        dequant = cb.decode(layer.w_codes, layer.w_cb).double() * layer.w_scale  # [M, 1] scales
        assert (dequant - w).abs().max() <= w.abs().max() / 8  # 4-bit codebook: a coarse but close fit


def test_a_quantized_layer_is_the_exact_code_gemm_scaled(llama):
    model, batches, layers = llama
    name = "model.layers.0.mlp.down_proj"
    layer, site = layers[name], find_gemms(model).by_name()[name]
    seen = {}
    with torch.no_grad(), aq_quantized(model, layers, capture=True) as rec:
        hook = lambda _m, args: seen.setdefault("x", args[0].detach())  # noqa: E731
        model.get_submodule(name).register_forward_pre_hook(hook)
        model(batches[0])
    x = site.input_matrix(seen["x"].float())
    codes = cb.encode(x / layer.x_scale, layer.x_cb)
    exact = bitserial_gemm(codes, layer.x_cb, layer.w_codes, layer.w_cb)
    workload = rec.layers[name].workload
    assert (workload.n, workload.k, workload.m) == (x.shape[0], site.k, site.m)
    assert workload.x_nonzero == int((codes != 0).sum()) and workload.serial == exact.serial
    # the module's output is the exact integer result times the scales (plus bias: none here)
    with torch.no_grad(), aq_quantized(model, {name: layer}):
        y = model.get_submodule(name)(seen["x"])
    expected = exact.output.double() * layer.x_scale * layer.w_scale[:, 0]
    assert torch.allclose(y.reshape(-1, site.m).double(), expected, rtol=1e-6, atol=1e-6)


def test_the_model_is_restored_and_workloads_round_trip(llama):
    model, batches, layers = llama
    with torch.no_grad():
        before = model(batches[1]).logits
        with aq_quantized(model, layers, capture=True) as rec:
            quantized = model(batches[1]).logits
        after = model(batches[1]).logits
    assert torch.equal(before, after) and not torch.equal(before, quantized)
    assert (quantized - before).abs().max() < 0.2 * before.abs().max()
    groups, meta = workloads_from_bytes(workloads_to_bytes({"main": rec.workloads()}, {"k": 1}))
    back = groups["main"]
    assert meta == {"k": 1} and len(back) == len(rec.workloads())
    model_cost = hw.load("aq-bitserial")
    assert model_cost.run(back).energy_pj == model_cost.run(rec.workloads()).energy_pj


def test_grouped_convolutions_and_other_codebooks():
    cnn = TinyCNN().eval()
    images = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    config = AQConfig(w_bits=3, w_codebook="nf", x_bits=5, x_codebook="kmeans")
    layers = calibrate_aq(cnn, [images], config)
    with torch.no_grad(), aq_quantized(cnn, layers, capture=True) as rec:
        out = cnn(images)
    assert torch.isfinite(out).all()
    groups = {w.name: w.groups for w in rec.workloads()}
    assert groups["blocks.0.0"] == 8 and groups["blocks.1.0"] == 3
    assert all((w.x_bits, w.w_bits) == (5, 3) for w in rec.workloads())
    assert hw.load("aq-bitserial").run(rec.workloads()).macs == sum(w.macs for w in rec.workloads())


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="w_bits must be at most 4 for a pow2 codebook"):
        AQConfig(w_codebook="pow2", w_bits=5)
    with pytest.raises(ValueError, match="less than or equal to 8"):
        AQConfig(x_bits=9)
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        AQConfig(w_bits=0)
