"""The PTQ study (``panacea ptq``) on small and shipped models: its rows and their consistency."""

from __future__ import annotations

import math

import pytest
from tiny_models import save_tiny_llama

from panacea.flows.ptq import ptq_study


@pytest.fixture(scope="module")
def tiny_lm_dir(tmp_path_factory):
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


def test_causal_lm_study(tiny_lm_dir):
    result = ptq_study(tiny_lm_dir, schemes=("fp32", "asym", "zpm", "dbs"), windows=2, seqlen=32, calib_windows=2)
    assert [r.scheme for r in result.schemes] == ["fp32", "asym", "zpm", "dbs"]
    assert result.data["overrides"] == [{"pattern": "*.mlp.down_proj", "x_bits": 12}]  # Llama: the paper's
    fp32, *quant = result.schemes
    assert fp32.act_vector_sparsity is None and math.isfinite(fp32.metrics["perplexity"])
    for r in quant:
        assert math.isfinite(r.metrics["perplexity"])
        assert 0 <= r.act_vector_sparsity <= 1 and 0 < r.mults_vs_dense <= 1
        assert len(r.layers) == 14 and all(layer["calls"] == 1 for layer in r.layers)


def test_image_study():
    """(The encoder's study runs once, through the CLI: tests/cli.)"""
    img = ptq_study("efficientnet-lite0", schemes=("fp32", "asym"))
    assert img.schemes[0].metrics["top1_agreement_with_fp32"] == 1.0
    assert img.data == {"images": 8, "profile": "accurate", "assumptions": {}, "overrides": []}


def test_unknown_scheme():
    with pytest.raises(ValueError, match=r"scheme .fp16. is neither a shipped scheme"):
        ptq_study("minilm-l6", schemes=("fp16",))
