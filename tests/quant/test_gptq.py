"""OPTQ: the algorithm against round-to-nearest, and the block-by-block driver."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from tiny_models import tiny_llama, token_batches

from panacea.models import find_gemms
from panacea.models.run import input_hooks
from panacea.quant import CalibrationConfig
from panacea.quant.gptq import optq_quantize, optq_weights, rtn_quantize


def test_identity_hessian_reduces_to_rounding():
    """Uncorrelated inputs of equal power: no error to spread, OPTQ is round-to-nearest."""
    w = torch.randn(6, 10)
    for group_size in (None, 4):
        q, s = optq_quantize(w, torch.eye(10).unsqueeze(0), 7, group_size=group_size, act_order=False)
        q_rtn, s_rtn = rtn_quantize(w, 7, group_size)
        assert torch.equal(q, q_rtn) and torch.allclose(s, s_rtn)


def test_correlated_inputs_reconstruct_better_than_rounding():
    gen = torch.Generator().manual_seed(0)
    mix = torch.randn(16, 16, generator=gen)
    x = torch.randn(512, 16, generator=gen) @ mix  # strongly correlated inputs
    w = torch.randn(8, 16, generator=gen)
    for act_order in (False, True):
        q, s = optq_quantize(w, (x.T @ x).unsqueeze(0), 4, act_order=act_order)
        q_rtn, s_rtn = rtn_quantize(w, 4, None)
        err = (x @ (w - q.float() * s).T).square().sum()
        err_rtn = (x @ (w - q_rtn.float() * s_rtn).T).square().sum()
        assert err < 0.8 * err_rtn
        assert q.abs().max() <= 7


def test_dead_columns_get_zero_weights_and_groups_are_independent():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(64, 8, generator=gen)
    x[:, 3] = 0.0  # a dead input
    w = torch.randn(4, 16, generator=gen)
    h = torch.stack([x.T @ x, 2 * x.T @ x])  # two groups of 8 (a grouped convolution)
    q, _ = optq_quantize(w, h, 7, group_size=8)
    assert (q[:, 3] == 0).all() and (q[:, 11] == 0).all()
    q0, _ = optq_quantize(w[:, :8], h[:1], 7)
    assert torch.equal(q[:, :8], q0)


def test_block_by_block_driver_restores_the_model():
    model = tiny_llama()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    sites = find_gemms(model, skip=("lm_head",)).sites
    config = CalibrationConfig(optq=True, w_bits=4)
    settings = {s.name: config.layer(s.name) for s in sites}
    out = optq_weights(model, sites, settings, token_batches(96), config)
    assert set(out) == {s.name for s in sites}
    for name, (w_q, scale) in out.items():
        assert w_q.dtype == torch.int8 and w_q.abs().max() <= 7 and (scale > 0).all(), name
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


# --------------------------------------------------------------------------- weight granularity


def _direct_rtn(w: torch.Tensor, bits: int, granularity: str, group_size: int | None):
    """Round-to-nearest written out from the definition: one scale max|w| / qmax per set of weights
    sharing it (the whole matrix, a row, or a run of ``group_size`` columns of a row)."""
    q = 2 ** (bits - 1) - 1
    m, k = w.shape
    scale = torch.empty(m, k)
    if granularity == "tensor":
        scale[:] = w.abs().max() / q
    elif granularity == "channel":
        scale[:] = w.abs().amax(dim=1, keepdim=True) / q
    else:
        for c in range(0, k, group_size):
            scale[:, c : c + group_size] = w[:, c : c + group_size].abs().amax(dim=1, keepdim=True) / q
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return torch.clamp(torch.round(w / scale), -q, q), scale


@given(
    m=st.integers(1, 9),
    k=st.integers(1, 40),
    bits=st.sampled_from([4, 7, 10]),
    granularity=st.sampled_from(["tensor", "channel", "group"]),
    group_size=st.integers(1, 48),
    zero_rows=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_every_granularity_rounds_exactly_like_its_definition(m, k, bits, granularity, group_size, zero_rows, seed):
    w = torch.randn(m, k, generator=torch.Generator().manual_seed(seed)) * 3
    if zero_rows:
        w[0] = 0.0  # an all-zero channel (or, for m = 1, matrix) keeps scale 1
    gs = group_size if granularity == "group" else None
    w_q, scale = rtn_quantize(w, bits, gs, granularity)
    ref_q, ref_scale = _direct_rtn(w, bits, granularity, min(group_size, k))
    columns = -(-k // min(group_size, k)) if gs else 1
    assert scale.shape == (m, columns) and scale.dtype == torch.float32
    assert torch.equal(w_q.float(), ref_q)
    expanded = scale.repeat_interleave(min(group_size, k), dim=1)[:, :k] if gs else scale.expand(m, k)
    assert torch.allclose(expanded, ref_scale, rtol=1e-6, atol=0)
    if granularity == "tensor":
        assert bool((scale == scale[0, 0]).all())


def test_per_tensor_optq_fixes_the_one_scale_before_the_sweep():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(256, 12, generator=gen) @ torch.randn(12, 12, generator=gen)
    w = torch.randn(5, 12, generator=gen)
    q, s = optq_quantize(w, (x.T @ x).unsqueeze(0), 4, granularity="tensor")
    _, s_rtn = rtn_quantize(w, 4, None, "tensor")
    assert torch.equal(s, s_rtn) and bool((s == s[0, 0]).all())
    assert q.abs().max() <= 7


@pytest.mark.parametrize(("granularity", "group_size"), [("tensor", None), ("channel", None), ("group", 16)])
def test_optq_reconstructs_no_worse_than_rounding_on_a_model(granularity, group_size):
    """Summed over the GEMMs of a config-built Llama, the output error ||X (W - W_q)^T||^2 on the
    calibration inputs: OPTQ at most rounding's, at each granularity."""
    model = tiny_llama()
    batches = token_batches(96)
    sites = find_gemms(model, skip=("lm_head",)).sites
    inputs = {s.name: [] for s in sites}
    with torch.no_grad(), input_hooks(sites, lambda site, x: inputs[site.name].append(site.input_matrix(x))):
        for b in batches:
            model(b)
    config = CalibrationConfig(optq=True, w_bits=4, w_granularity=granularity, w_group_size=group_size)
    settings = {s.name: config.layer(s.name) for s in sites}
    optq = optq_weights(model, sites, settings, batches, config)
    errors = {"optq": 0.0, "rtn": 0.0}
    for site in sites:
        w = site.weight_matrix().float()
        x = torch.cat(inputs[site.name])
        for how, (w_q, scale) in (("optq", optq[site.name]), ("rtn", rtn_quantize(w, 4, group_size, granularity))):
            cols = scale.repeat_interleave(group_size, dim=1)[:, : w.shape[1]] if group_size else scale
            errors[how] += float((x @ (w - w_q.float() * cols).T).square().sum())
    assert errors["optq"] <= errors["rtn"]
