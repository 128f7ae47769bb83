"""The quantizer interface: a scheme's number format picks its quantizer, every family calibrates,
applies and summarises through the same methods, and shared passes change no calibration."""

from __future__ import annotations

import typing

import torch
from tiny_models import tiny_llama, token_batches

from panacea.core.formats import NumberFormat
from panacea.flows.pipeline import calibrate
from panacea.quant.arbitrary import AQConfig, ArbitraryQuantizer, calibrate_aq
from panacea.quant.quantizer import QUANTIZERS, BitSliceQuantizer, Quantizer, quantizer_for
from panacea.schemes import ArbitraryScheme


def test_every_number_format_has_one_quantizer():
    assert set(QUANTIZERS) == set(typing.get_args(NumberFormat))
    assert isinstance(quantizer_for("bitslice-asym"), BitSliceQuantizer)
    assert isinstance(quantizer_for("arbitrary"), ArbitraryQuantizer)
    # Sibia's and Panacea's schemes are one family: calibrated together, in shared passes.
    assert quantizer_for("bitslice-sym") is quantizer_for("bitslice-asym")


def test_quantizers_implement_the_protocol():
    methods = [m for m in vars(Quantizer) if not m.startswith("_")]
    assert {"rider", "calibrate", "applied", "summary", "workloads"} <= set(methods)
    for q in {id(q): q for q in QUANTIZERS.values()}.values():
        assert all(callable(getattr(q, m)) for m in methods)
        assert q.keeper is None or all(callable(getattr(q.keeper, m)) for m in ("save", "load"))
    # recipes take minutes to calibrate on large models and are cached; codebooks are refitted
    assert quantizer_for("bitslice-asym").keeper is not None and quantizer_for("arbitrary").keeper is None


def _equal_codebooks(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        torch.equal(a[n].x_cb.levels, b[n].x_cb.levels)
        and torch.equal(a[n].w_codes, b[n].w_codes)
        and a[n].x_scale == b[n].x_scale
        for n in a
    )


def test_codebook_schemes_sharing_a_pass_each_see_their_own_layers():
    """Two arbitrary schemes that quantize different layers, calibrated in one observing pass, get
    the codebooks each gets alone (a layer's inputs reach only the schemes that quantize it)."""
    model, batches = tiny_llama(), token_batches(96, 2)
    small = AQConfig(samples=256, skip=("lm_head", "*.mlp.*"))
    full = AQConfig(samples=256, w_bits=3, seed=5)
    schemes = [
        ArbitraryScheme(name="a", label="a", format="arbitrary", calibration=small),
        ArbitraryScheme(name="b", label="b", format="arbitrary", calibration=full),
    ]
    together = calibrate(model, batches, schemes)
    assert _equal_codebooks(together["a"], calibrate_aq(model, batches, small))
    assert _equal_codebooks(together["b"], calibrate_aq(model, batches, full))
    assert not any(".mlp." in name for name in together["a"]) and any(".mlp." in name for name in together["b"])
