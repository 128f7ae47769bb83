"""Calibration configuration: validation and per-layer resolution."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from panacea.quant import CalibrationConfig, LayerOverride


def test_defaults_and_overrides():
    c = CalibrationConfig(
        overrides=(
            LayerOverride(pattern="*.mlp.down_proj", x_bits=12),
            LayerOverride(pattern="*.mlp.*", w_bits=10),
            LayerOverride(pattern="*.attn.c_attn", skip=True),
        )
    )
    assert c.layer("model.layers.0.self_attn.q_proj").model_dump() == {
        "w_bits": 7,
        "x_bits": 8,
        "w_granularity": "channel",
        "w_group_size": None,
    }
    assert c.layer("model.layers.3.mlp.down_proj").x_bits == 12  # first match wins
    assert c.layer("model.layers.3.mlp.down_proj").w_bits == 7
    assert c.layer("model.layers.3.mlp.up_proj").w_bits == 10
    assert c.layer("lm_head") is None  # skipped by default
    assert c.layer("transformer.h.0.attn.c_attn") is None


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        (dict(w_bits=8), "w_bits must be one of [4, 7, 10]"),
        (dict(x_bits=16), "x_bits must be one of [8, 12]"),
        (dict(observer="max"), "observer must be one of"),
        (dict(scheme="sym"), "scheme 'sym' has no zero point"),
        (dict(zpm="middle"), "zpm"),
        (dict(dbs_target=1.0), "dbs_target"),
        (dict(vector=0), "vector"),
        (dict(unknown=1), "unknown"),
        (dict(overrides=[{"pattern": "*", "w_bits": 5}]), "w_bits must be one of"),
        (dict(w_granularity="row"), "w_granularity"),
        (dict(w_granularity="group"), "w_group_size is required with w_granularity 'group'"),
        (dict(w_granularity="tensor", w_group_size=64), "applies to it only"),
        (dict(w_group_size=0), "w_group_size"),
        (dict(w_group_size=64), "w_group_size is required with w_granularity 'group' and applies to it only"),
        (dict(overrides=[{"pattern": "*", "w_granularity": "group"}]), "overrides.0 ('*'): w_granularity 'group'"),
        (dict(overrides=[{"pattern": "*", "w_granularity": "tensor", "w_group_size": 8}]), "applies to"),
    ],
)
def test_invalid_configs_name_the_field(kwargs, fragment):
    with pytest.raises(ValidationError, match=re.escape(fragment)):
        CalibrationConfig(**kwargs)


def test_granularity_per_layer():
    c = CalibrationConfig(
        w_granularity="tensor",
        overrides=(
            LayerOverride(pattern="*.down_proj", w_group_size=16),  # a group size alone means groups
            LayerOverride(pattern="*.up_proj", w_granularity="channel"),
        ),
    )
    assert (c.layer("a.q_proj").w_granularity, c.layer("a.q_proj").w_group_size) == ("tensor", None)
    assert (c.layer("a.down_proj").w_granularity, c.layer("a.down_proj").w_group_size) == ("group", 16)
    assert (c.layer("a.up_proj").w_granularity, c.layer("a.up_proj").w_group_size) == ("channel", None)
    grouped = CalibrationConfig(
        w_granularity="group", w_group_size=64, overrides=(LayerOverride(pattern="*.o", w_granularity="tensor"),)
    )
    assert (grouped.layer("x.o").w_granularity, grouped.layer("x.o").w_group_size) == ("tensor", None)
    assert grouped.layer("x.k").w_group_size == 64
