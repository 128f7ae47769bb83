"""Finding GEMMs and reading them as [N, groups*K] x [M, groups*K]^T products."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from tiny_models import tiny_llama
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel

from panacea.models import find_gemms


def test_llama_linears_in_order_with_their_shapes():
    inv = find_gemms(tiny_llama(), skip=("lm_head",))
    names = [s.name for s in inv]
    assert names[:7] == [
        f"model.layers.0.{p}"
        for p in (
            "self_attn.q_proj",
            "self_attn.k_proj",
            "self_attn.v_proj",
            "self_attn.o_proj",
            "mlp.gate_proj",
            "mlp.up_proj",
            "mlp.down_proj",
        )
    ]
    sites = inv.by_name()
    assert (sites["model.layers.0.self_attn.k_proj"].k, sites["model.layers.0.self_attn.k_proj"].m) == (32, 16)
    assert (sites["model.layers.1.mlp.down_proj"].k, sites["model.layers.1.mlp.down_proj"].m) == (48, 32)
    assert inv.skipped == ["lm_head"] and inv.unsupported == []
    assert len(inv) == 14


def test_gpt2_conv1d_is_a_transposed_linear():
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=64, n_embd=16, n_layer=1, n_head=2, n_positions=16)).eval()
    site = find_gemms(model).by_name()["transformer.h.0.mlp.c_fc"]
    assert site.kind == "conv1d" and (site.k, site.m) == (16, 64)
    x = torch.randn(2, 3, 16)
    y = site.input_matrix(x) @ site.weight_matrix().T + site.module.bias
    assert torch.allclose(site.output_from_matrix(y, x), site.module(x), atol=1e-6)


class StaticPad(nn.Conv2d):
    """Like efficientnet-pytorch's Conv2dStaticSamePadding: pads in its forward."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.static_padding = nn.ZeroPad2d((1, 0, 0, 1))

    def forward(self, x):
        return nn.functional.conv2d(
            self.static_padding(x), self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )


class CustomConv(nn.Conv2d):
    def forward(self, x):
        return super().forward(x) * 2


@given(
    c_in_per_group=st.integers(1, 3),
    c_out_per_group=st.integers(1, 3),
    groups=st.integers(1, 3),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 2),
    padding=st.integers(0, 1),
    dilation=st.integers(1, 2),
    static=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_conv2d_im2col_gemm_equals_the_convolution(
    c_in_per_group, c_out_per_group, groups, kernel, stride, padding, dilation, static, seed
):
    torch.manual_seed(seed)
    cls = StaticPad if static else nn.Conv2d
    conv = cls(
        groups * c_in_per_group,
        groups * c_out_per_group,
        kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
    ).double()
    (site,) = find_gemms(nn.Sequential(conv)).sites
    k = c_in_per_group * kernel * kernel
    assert (site.k, site.m, site.groups) == (k, c_out_per_group, groups)
    x = torch.randn(2, groups * c_in_per_group, 7, 6, dtype=torch.float64)
    cols, w = site.input_matrix(x), site.weight_matrix()
    assert cols.shape[1] == w.shape[1] == groups * k
    # group g's columns meet only group g's weights; outputs come out in channel order g*M + m
    y = torch.cat([cols[:, g * k : (g + 1) * k] @ w[:, g * k : (g + 1) * k].T for g in range(groups)], dim=1)
    with torch.no_grad():
        expected = conv(x) - conv.bias.view(1, -1, 1, 1)
    assert torch.allclose(site.output_from_matrix(y, x), expected, atol=1e-10)


def test_unsupported_modules_are_listed_not_dropped():
    model = nn.Sequential(
        nn.Embedding(10, 4),
        nn.LayerNorm(4),
        nn.Linear(4, 4),
        nn.Conv1d(4, 4, 3),
        CustomConv(4, 4, 1),
        nn.MultiheadAttention(4, 2),
        nn.BatchNorm1d(4),
    )
    inv = find_gemms(model)
    assert [s.name for s in inv] == ["2"]
    assert inv.unsupported == [("3", "Conv1d"), ("4", "CustomConv"), ("5", "MultiheadAttention")]


def test_model_without_gemm_and_bad_argument():
    assert len(find_gemms(nn.Sequential(nn.ReLU()))) == 0
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        find_gemms("model")
