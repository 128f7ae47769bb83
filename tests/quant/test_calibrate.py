"""Calibration on small models built from configs: ZPM, DBS, exact quantized layers, bad input."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_models import image_batches, tiny_cnn, tiny_gpt2, tiny_llama, token_batches
from torch import nn

import panacea
from panacea.core.slicing import act_vector_stored
from panacea.models import find_gemms
from panacea.models.run import forward, inference, input_hooks
from panacea.quant import CalibrationConfig, LayerOverride, QuantizedGemm, calibrate, calibrate_many, quantized
from panacea.quant.dbs import dbs_lo_bits
from panacea.quant.inference import dequantize_gemm, quantize_input
from panacea.quant.zpm import zpm_zero_point

LLAMA_BATCHES = token_batches(96)


@pytest.fixture(scope="module")
def llama():
    return tiny_llama()


def fp_inputs(model, batches) -> dict[str, list[torch.Tensor]]:
    """Every GEMM's input matrices on the floating-point model."""
    sites = find_gemms(model, skip=("lm_head",)).sites
    seen: dict[str, list[torch.Tensor]] = {s.name: [] for s in sites}
    with inference(model), input_hooks(sites, lambda site, x: seen[site.name].append(site.input_matrix(x))):
        for b in batches:
            forward(model, b)
    return seen


def compressed_vectors(cols: list[torch.Tensor], layer, zero_point: int) -> int:
    total = 0
    for x in cols:
        x_q = torch.clamp(torch.round(x / layer.x_scale) + zero_point, 0, 2**layer.x_bits - 1).to(torch.int16)
        stored = act_vector_stored(x_q, zero_point, layer.x_bits, layer.lo_bits, 4)
        total += stored.numel() - int(stored.sum())
    return total


@pytest.mark.parametrize("dbs", [False, True])
def test_paper_zpm_moves_every_zero_point_to_the_middle_of_its_bin(llama, dbs):
    recipe = calibrate(llama, LLAMA_BATCHES, CalibrationConfig(zpm="paper", dbs=dbs))
    assert recipe.layers
    for layer in recipe.layers.values():
        assert layer.zero_point == zpm_zero_point(
            layer.calibrated_zero_point, lo_bits=layer.lo_bits, x_bits=layer.x_bits
        )


@pytest.mark.parametrize("dbs", [False, True])
def test_search_zpm_never_lowers_measured_vector_sparsity(llama, dbs):
    recipe = calibrate(llama, LLAMA_BATCHES, CalibrationConfig(zpm="search", dbs=dbs))
    inputs = fp_inputs(llama, LLAMA_BATCHES)
    moved = 0
    for name, layer in recipe.layers.items():
        width = 1 << (layer.lo_bits if layer.x_bits == 8 else layer.lo_bits + 4)
        assert layer.zero_point // width == layer.calibrated_zero_point // width  # within the HO bin
        chosen = compressed_vectors(inputs[name], layer, layer.zero_point)
        calibrated = compressed_vectors(inputs[name], layer, layer.calibrated_zero_point)
        assert chosen >= calibrated, name
        moved += layer.zero_point != layer.calibrated_zero_point
    assert moved > 0


def test_dbs_types_follow_each_layers_sigma(llama):
    config = CalibrationConfig(dbs=True, dbs_target=0.6)
    recipe = calibrate(llama, LLAMA_BATCHES, config)
    inputs = fp_inputs(llama, LLAMA_BATCHES)
    for name, layer in recipe.layers.items():
        std = float(torch.cat([x.reshape(-1) for x in inputs[name]]).double().std(unbiased=False))
        assert layer.sigma == pytest.approx(std / layer.x_scale, rel=1e-4)
        assert layer.lo_bits == dbs_lo_bits(layer.sigma, config.dbs_target, x_bits=layer.x_bits)
    assert len({layer.lo_bits for layer in recipe.layers.values()}) > 1  # the types do differ


@pytest.mark.parametrize(
    ("make_model", "batches", "config"),
    [
        (tiny_llama, LLAMA_BATCHES, CalibrationConfig()),
        (tiny_llama, LLAMA_BATCHES, CalibrationConfig(scheme="sym", zpm="off", dbs=False)),
        (tiny_gpt2, token_batches(64), CalibrationConfig(dbs_target=0.5)),
        (tiny_cnn, image_batches(), CalibrationConfig()),
    ],
)
def test_quantized_layer_equals_the_bitslice_gemm_dequantized(make_model, batches, config):
    """The identity: every quantized layer's output is the accelerator's GEMM on the same integers,
    dequantized (plus bias). Capturing (which runs the bit-slice GEMM) changes nothing."""
    model = make_model()
    recipe = calibrate(model, batches, config)
    calls = []

    def hook(module, args, output):
        calls.append((module, args[0], output))

    with torch.no_grad(), quantized(model, recipe):
        handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, QuantizedGemm)]
        plain = forward(model, batches[0])
        with panacea.capture(model):
            captured = forward(model, batches[0])
        for h in handles:
            h.remove()

    def out(o):
        return o.logits if hasattr(o, "logits") else o

    assert torch.equal(out(plain), out(captured))
    assert calls
    for module, x, y in calls:
        layer = module.layer
        x_q = quantize_input(module.site.input_matrix(x), layer)
        w = panacea.pack_weights(module.w_q, bits=layer.w_bits)
        if layer.symmetric:
            acc = panacea.bitslice_gemm(x_q, w, x_bits=7, groups=layer.groups).output
        else:
            acc = panacea.aqs_gemm(
                x_q, w, layer.zero_point, x_bits=layer.x_bits, lo_bits=layer.lo_bits, groups=layer.groups
            ).output
        if layer.groups > 1:
            sums = module.w_q.long().reshape(layer.m, layer.groups, layer.k).sum(2).t().reshape(-1)
            scale = module.w_scale.t().reshape(-1)
        else:
            sums, scale = module.w_q.long().sum(1), module.w_scale[:, 0]
        expected = dequantize_gemm(acc, layer, sums, scale)
        if module.bias is not None:
            expected = expected + module.bias
        assert torch.equal(module.site.output_from_matrix(expected, x), y), layer.name


def test_quantized_model_tracks_the_float_model_and_is_restored(llama):
    x = token_batches(96, 1, seed=9)[0]
    with torch.no_grad():
        ref = llama(x).logits
        with quantized(llama, calibrate(llama, LLAMA_BATCHES)) as q:
            out = q(x).logits
        after = llama(x).logits
    assert torch.equal(after, ref)
    assert (out - ref).norm() / ref.norm() < 0.1
    assert all(not isinstance(m, QuantizedGemm) for m in llama.modules())


def test_overrides_mixed_precision_and_grouped_weights(llama):
    config = CalibrationConfig(
        w_granularity="group",
        w_group_size=16,
        overrides=(
            LayerOverride(pattern="*.mlp.down_proj", x_bits=12),
            LayerOverride(pattern="*.mlp.*", w_bits=10),
        ),
    )
    recipe = calibrate(llama, LLAMA_BATCHES, config)
    down, up = recipe.layers["model.layers.0.mlp.down_proj"], recipe.layers["model.layers.0.mlp.up_proj"]
    assert (down.x_bits, down.w_bits, up.x_bits, up.w_bits) == (12, 7, 8, 10)
    assert recipe.weight("model.layers.0.mlp.down_proj")[1].shape == (32, 3)  # 48 inputs in groups of 16
    x = token_batches(96, 1, seed=9)[0]
    with torch.no_grad(), quantized(llama, recipe) as q:
        assert torch.isfinite(q(x).logits).all()


def test_grouped_convolutions_are_quantized_per_output_channel():
    model = tiny_cnn()
    recipe = calibrate(model, image_batches())
    dw = recipe.layers["blocks.0.0"]
    assert (dw.groups, dw.k, dw.m, dw.w_group_size) == (8, 9, 1, 9)
    assert recipe.weight("blocks.0.0")[1].shape == (1, 8)  # one scale per channel
    x = image_batches(1, seed=5)[0]
    with torch.no_grad():
        ref = model(x)
        with quantized(model, recipe) as q:
            out = q(x)
    assert (out - ref).norm() / ref.norm() < 0.1


def test_calibrate_many_shares_passes_but_matches_single_calls(llama):
    configs = {
        "asym": CalibrationConfig(zpm="off", dbs=False),
        "zpm": CalibrationConfig(dbs=False),
        "dbs": CalibrationConfig(),
        "sym": CalibrationConfig(scheme="sym", zpm="off", dbs=False),
    }
    many = calibrate_many(llama, LLAMA_BATCHES, configs)
    for key, config in configs.items():
        single = calibrate(llama, LLAMA_BATCHES, config)
        assert many[key].layers == single.layers, key
        assert all(torch.equal(many[key].tensors[t], single.tensors[t]) for t in single.tensors)


class NoGemm(nn.Module):
    def forward(self, x):
        return x * 2


@pytest.mark.parametrize(
    ("model", "batches", "error", "fragment"),
    [
        (tiny_llama(), [], ValueError, "batches is empty"),
        (tiny_llama(), 5, TypeError, "batches must be an iterable"),
        (NoGemm(), [torch.ones(2)], ValueError, "no GEMM panacea can quantize"),
        (nn.Sequential(nn.Linear(4, 4)), [torch.tensor([[1.0, math.nan, 0.0, 0.0]])], ValueError, "NaN or Inf"),
        (nn.Sequential(nn.Linear(4, 4)), [torch.ones(1, 4)], ValueError, "every GEMM of the model is skipped"),
    ],
)
def test_bad_calibration_input(model, batches, error, fragment):
    config = CalibrationConfig(skip=("0",)) if "skipped" in fragment else None
    with pytest.raises(error, match=fragment):
        calibrate(model, batches, config)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 40),
    st.sampled_from([1, 3, 4, 8]),
    st.sampled_from([(8, 4), (8, 5), (8, 6), (12, 4)]),
    st.floats(0.01, 0.5),
    st.integers(0, 3),
    st.integers(0, 10_000),
)
def test_search_counts_from_kept_extremes_equal_counting_every_candidate(rows, vector, bits, scale, bin_index, seed):
    """The ZPM search counts, per candidate zero point, the vectors whose quantized activations
    all share the candidate's HO slice; from the float extremes kept while observing, that must
    equal quantizing every vector for every candidate (module docs: monotonic rounding)."""
    from panacea.core.formats import ho_shift
    from panacea.quant.calibrate import _Extremes, _Search, _search_counts

    x_bits, lo_bits = bits
    qmax = 2**x_bits - 1
    width = 1 << ho_shift(x_bits, lo_bits)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, 6, generator=gen) * float(torch.rand(1, generator=gen) * 3)
    x[torch.rand(rows, 6, generator=gen) < 0.3] = 0.0  # runs of exact zeros: compressible vectors
    site = find_gemms(nn.Sequential(nn.Linear(6, 2))).sites[0]
    extremes = _Extremes([site], {site.name: {vector: 1}})
    extremes(site, x)
    base = min(bin_index * width, qmax + 1 - width)
    search = _Search(site.name, scale, base, width, qmax, vector, 1)
    got = _search_counts(search, extremes)
    for i in range(width):
        z = base + i
        x_q = torch.clamp(torch.round(x / scale) + z, 0, qmax).to(torch.int16)
        stored = act_vector_stored(x_q, z, x_bits, lo_bits, vector)
        assert int(got[i]) == stored.numel() - int(stored.sum()), z
