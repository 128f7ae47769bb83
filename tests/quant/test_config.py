"""Calibration configuration: validation and per-layer resolution."""

from __future__ import annotations

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
    assert c.layer("model.layers.0.self_attn.q_proj").model_dump() == {"w_bits": 7, "x_bits": 8, "w_group_size": None}
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
    ],
)
def test_invalid_configs_name_the_field(kwargs, fragment):
    with pytest.raises(ValidationError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        CalibrationConfig(**kwargs)
