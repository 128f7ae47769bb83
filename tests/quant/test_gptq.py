"""OPTQ: the algorithm against round-to-nearest, and the block-by-block driver."""

from __future__ import annotations

import torch
from tiny_models import tiny_llama, token_batches

from panacea.models import find_gemms
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
