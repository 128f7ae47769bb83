"""Block-streamed models compute exactly what whole float32 models of the same weights compute."""

from __future__ import annotations

import copy

import pytest
import torch
from tiny_models import image_batches, save_tiny_llama, tiny_cnn, tiny_gpt2, token_batches

from panacea.flows.evaluate import EvaluateConfig, evaluate
from panacea.models.loaders import load_model
from panacea.models.streaming import COMPACT, is_streamed, stream_blocks
from panacea.quant import CalibrationConfig, calibrate_many, capture, quantized

CONFIGS = {
    "zpm-dbs": CalibrationConfig(zpm="search", dbs=True),
    "optq": CalibrationConfig(optq=True, w_bits=4, w_granularity="group", w_group_size=16),
    "sym": CalibrationConfig(scheme="sym", zpm="off", dbs=False),
}


def _bf16_rounded(model: torch.nn.Module, blocks_only: bool) -> torch.nn.Module:
    """``model`` whose block tensors (or all) hold bfloat16-representable float32 values."""
    model = copy.deepcopy(model)
    names = ("blocks.", "transformer.h.", "model.layers.")
    for name, t in (*model.named_parameters(), *model.named_buffers()):
        if t.is_floating_point() and (not blocks_only or name.startswith(names)):
            t.data = t.data.to(torch.bfloat16).to(torch.float32)
    return model


def _run_all(model, batches):
    """Outputs, recipes and captured workloads of every configuration."""
    with torch.no_grad():
        outputs = [getattr(out, "logits", out) for out in map(model, batches)]
    recipes = calibrate_many(model, batches, CONFIGS)
    captured = {}
    for key, recipe in recipes.items():
        with torch.no_grad(), quantized(model, recipe) as qmodel, capture(qmodel) as rec:
            out = [qmodel(b) for b in batches]
        captured[key] = ([getattr(o, "logits", o) for o in out], rec)
    return outputs, recipes, captured


def _assert_same(whole, streamed):
    (out_w, rec_w, cap_w), (out_s, rec_s, cap_s) = whole, streamed
    for a, b in zip(out_w, out_s, strict=True):
        assert torch.equal(a, b)
    for key in CONFIGS:
        assert rec_w[key].layers == rec_s[key].layers
        assert rec_w[key].tensors.keys() == rec_s[key].tensors.keys()
        for name, t in rec_w[key].tensors.items():
            assert torch.equal(t, rec_s[key].tensors[name]), (key, name)
        (yw, w), (ys, s) = cap_w[key], cap_s[key]
        for a, b in zip(yw, ys, strict=True):
            assert torch.equal(a, b)
        assert w.layers.keys() == s.layers.keys()
        for name, lw in w.layers.items():
            ls = s.layers[name]
            assert lw.counts == ls.counts
            assert torch.equal(lw.workload.act_stored, ls.workload.act_stored)
            assert torch.equal(lw.workload.weight_stored, ls.workload.weight_stored)


def _one_block_at_a_time(streamed):
    """A pre-hook on every block (after the streaming one) checking that the float32 copies held
    are this block's (none when every weighted module of it is quantized)."""

    def check(module, _args):
        held = {id(t) for t, _ in streamed._materialiser.current}
        mine = {id(t) for t in (*module.parameters(), *module.buffers())}
        assert held <= mine, "another block is still materialised"

    return [b.register_forward_pre_hook(check) for b in streamed.blocks]


@pytest.mark.parametrize("make, batches", [(tiny_gpt2, token_batches(64)), (tiny_cnn, image_batches())])
def test_streamed_blocks_compute_what_the_whole_model_computes(make, batches):
    base = make()
    whole = _bf16_rounded(base, blocks_only=True)
    streamed_model = copy.deepcopy(base)
    streamed = stream_blocks(streamed_model, torch.bfloat16)
    assert streamed is not None and len(streamed.blocks) == 2
    block_tensors = [t for b in streamed.blocks for t in b.parameters()]
    assert block_tensors and all(t.dtype == torch.bfloat16 and is_streamed(t) for t in block_tensors)
    hooks = _one_block_at_a_time(streamed)
    _assert_same(_run_all(whole, batches), _run_all(streamed_model, batches))
    for h in hooks:
        h.remove()
    # between passes every block is compact again (OPTQ restored its weights too)
    assert all(t.dtype in COMPACT for t in block_tensors)


def test_a_bf16_checkpoint_loads_streamed_and_computes_as_its_float32_load(tmp_path):
    path = save_tiny_llama(tmp_path / "llama-bf16", dtype=torch.bfloat16)
    whole, streamed = load_model(path, stream=False).model, load_model(path, stream=True).model
    assert all(t.dtype == torch.float32 for t in whole.parameters())
    layers = [t for t in streamed.model.layers.parameters()]
    assert all(t.dtype == torch.bfloat16 for t in layers)
    assert streamed.model.embed_tokens.weight.dtype == torch.float32 and streamed.dtype == torch.float32
    batches = token_batches(whole.config.vocab_size)
    _assert_same(_run_all(whole, batches), _run_all(streamed, batches))


def test_stream_blocks_refuses_a_wide_dtype():
    with pytest.raises(ValueError, match=r"dtype must be torch\.bfloat16 or torch\.float16"):
        stream_blocks(tiny_gpt2(), torch.float64)


@pytest.mark.slow
def test_evaluate_streamed_equals_whole(tmp_path):
    """The whole flow: metrics to 1e-6, every cost identical."""
    path = save_tiny_llama(tmp_path / "llama-bf16", dtype=torch.bfloat16)
    opts = dict(model=path, schemes=("sym", "dbs"), tokens=64, calib_tokens=64, seqlen=32, batch_size=2)
    whole = evaluate(EvaluateConfig(**opts, stream=False), tmp_path / "whole")
    streamed = evaluate(EvaluateConfig(**opts, stream=True), tmp_path / "streamed")
    assert whole.fp32 == pytest.approx(streamed.fp32, rel=1e-6)
    for a, b in zip(whole.schemes, streamed.schemes, strict=True):
        assert a.metrics == pytest.approx(b.metrics, rel=1e-6)
        assert a.layers == b.layers
    for a, b in zip(whole.costs, streamed.costs, strict=True):
        assert (a.accelerator, a.scheme, a.variant, a.cycles, a.energy_pj) == (
            b.accelerator, b.scheme, b.variant, b.cycles, b.energy_pj
        )  # fmt: skip
