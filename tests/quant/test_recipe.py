"""Recipe files: round trip, validation on load, atomic writes."""

from __future__ import annotations

import json
import os

import pytest
import torch
from tiny_models import image_batches, tiny_cnn, tiny_llama, token_batches

from panacea.quant import CalibrationConfig, QuantRecipe, calibrate, quantized


@pytest.fixture(scope="module")
def recipe():
    return calibrate(tiny_llama(), token_batches(96))


def test_round_trip(recipe, tmp_path):
    recipe.save(tmp_path)
    loaded = QuantRecipe.load(tmp_path)
    assert loaded.config == recipe.config and loaded.layers == recipe.layers and loaded.skipped == recipe.skipped
    assert loaded.tensors.keys() == recipe.tensors.keys()
    assert all(torch.equal(loaded.tensors[k], v) for k, v in recipe.tensors.items())
    model, x = tiny_llama(), token_batches(96, 1, seed=7)[0]
    with torch.no_grad():
        with quantized(model, recipe):
            a = model(x).logits
        with quantized(model, loaded):
            b = model(x).logits
    assert torch.equal(a, b)


@pytest.mark.parametrize(("granularity", "group_size"), [("tensor", None), ("channel", None), ("group", 16)])
def test_each_weight_granularity_is_recorded_and_round_trips(granularity, group_size, tmp_path):
    config = CalibrationConfig(w_granularity=granularity, w_group_size=group_size)
    recipe = calibrate(tiny_llama(), token_batches(96), config)
    loaded = QuantRecipe.load(recipe.save(tmp_path))
    assert loaded.config.w_granularity == granularity and loaded.layers == recipe.layers
    for name, layer in loaded.layers.items():
        assert (layer.w_granularity, layer.w_group_size) == (granularity, group_size)
        w_q, scale = loaded.weight(name)
        columns = -(-layer.k // group_size) if group_size else 1
        assert scale.shape == (layer.m, columns) and torch.equal(w_q, recipe.weight(name)[0])
        if granularity == "tensor":  # one scale for the whole matrix
            assert bool((scale == scale[0, 0]).all()) and int(w_q.abs().max()) == 63


@pytest.mark.parametrize("make_model", [tiny_llama, tiny_cnn])
def test_a_recipe_from_before_w_granularity_still_loads(make_model, tmp_path):
    """Recipes written before ``w_granularity`` said per-group weights by a ``w_group_size`` alone."""
    config = CalibrationConfig(w_granularity="group", w_group_size=16)
    batches = token_batches(96) if make_model is tiny_llama else image_batches()
    recipe = calibrate(make_model(), batches, config)

    def legacy(doc):
        for part in [doc["config"], *doc["layers"]]:
            del part["w_granularity"]

    _edit_json(recipe.save(tmp_path), legacy)
    loaded = QuantRecipe.load(tmp_path)
    assert loaded.layers == recipe.layers and loaded.config == recipe.config


def test_per_tensor_scales_that_differ_are_rejected(tmp_path):
    recipe = calibrate(tiny_llama(), token_batches(96), CalibrationConfig(w_granularity="tensor"))
    name = next(iter(recipe.layers))
    recipe.tensors[f"{name}/w_scale"][0, 0] *= 2
    with pytest.raises(ValueError, match="differ, w_granularity is 'tensor'"):
        QuantRecipe.load(recipe.save(tmp_path))


def _edit_json(path, fn):
    doc = json.loads((path / "recipe.json").read_text())
    fn(doc)
    (path / "recipe.json").write_text(json.dumps(doc))


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda d: d["layers"][0].update(zero_point=300), "zero_point must be in"),
        (lambda d: d["layers"][0].update(lo_bits=7), "lo_bits must be one of"),
        (lambda d: d["layers"][0].update(x_scale=-1), "x_scale"),
        (lambda d: d.update(version=2), "version"),
        (lambda d: d["config"].update(w_bits=8), "w_bits"),
        (lambda d: d.update(tensors_sha256="0" * 64), "does not match"),
        (lambda d: d["layers"][0].update(m=7), "must be int8/int16 of shape"),
        (lambda d: d["layers"][0].update(w_granularity="group"), "w_group_size is set exactly when"),
        (lambda d: d["layers"][0].update(w_granularity="row"), "w_granularity"),
    ],
)
def test_load_rejects_a_bad_recipe(recipe, tmp_path, edit, fragment):
    recipe.save(tmp_path)
    _edit_json(tmp_path, edit)
    with pytest.raises(ValueError, match=fragment):
        QuantRecipe.load(tmp_path)


def test_load_rejects_a_missing_or_corrupt_recipe(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a panacea recipe directory"):
        QuantRecipe.load(tmp_path)
    (tmp_path / "recipe.json").write_text("{not json")
    (tmp_path / "recipe.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="not a valid panacea recipe"):
        QuantRecipe.load(tmp_path)


def test_out_of_range_weights_are_rejected(recipe):
    bad = QuantRecipe(recipe.config, recipe.layers, dict(recipe.tensors), recipe.skipped)
    name = next(iter(bad.layers))
    w = bad.tensors[f"{name}/w_q"].clone()
    w[0, 0] = 64  # 7-bit narrow range ends at 63
    bad.tensors[f"{name}/w_q"] = w
    with pytest.raises(ValueError, match=r"outside \[-63, 63\]"):
        bad.validate()


def test_interrupted_save_leaves_the_old_recipe_and_no_temporary_file(recipe, tmp_path, monkeypatch):
    recipe.save(tmp_path)
    before = (tmp_path / "recipe.json").read_bytes()

    def fail(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(KeyboardInterrupt):
        recipe.save(tmp_path)
    assert (tmp_path / "recipe.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recipe.json", "recipe.safetensors"]
