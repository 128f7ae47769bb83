"""Evaluation and calibration data: offline text and images, and the WikiText-2 loader.

Offline (shipped inside PyPI packages):

- :func:`wikipedia_text`: a real Wikipedia dump from gensim's test data (articles without
  redirects, wiki markup stripped, joined by blank lines), about 3.1 M characters, the same source
  as WikiText-2 and larger than its test split;
- :func:`news_text`: 300 English news articles (gensim's ``lee_background.cor``);
- :func:`polarity_sentences`: 200 movie-review sentences labelled positive/negative (gensim);
- :func:`sample_images`: the RGB photographs scikit-image ships.

:func:`wikitext2` reads WikiText-2 (raw) from a local directory (``wiki.test.raw`` ...) or, with the
``datasets`` package and network access, from the hub, and joins it as the GPTQ protocol does.
"""

from __future__ import annotations

import bz2
import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import torch

from panacea.core.files import atomic_write, read_text
from panacea.models.loaders import ModelNotAvailable, cache_dir

_WIKI_DUMP = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
IMAGE_NAMES = ("astronaut", "cat", "chelsea", "coffee", "hubble_deep_field", "immunohistochemistry", "retina", "rocket")


def _gensim_path(name: str) -> str:
    """A file of gensim's test data (``gensim.test.utils.datapath``), found without importing gensim
    (half a second)."""
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailable("gensim is not installed: run `make demo` (or `pip install gensim`)")
    return str(Path(spec.submodule_search_locations[0]) / "test" / "test_data" / name)


def wikipedia_text() -> str:
    """The articles of gensim's Wikipedia test dump, markup stripped, joined by blank lines.

    Extracting them takes seconds, so the text is kept in the cache directory (``$PANACEA_CACHE``,
    as the converted models are) under the dump's SHA-256, and read from there by later runs.
    """
    dump = Path(_gensim_path(_WIKI_DUMP))
    kept = cache_dir() / f"wikipedia-{hashlib.sha256(dump.read_bytes()).hexdigest()[:16]}.txt"
    try:
        return kept.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        pass
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    with bz2.open(dump, "rb") as f:
        texts = [filter_wiki(text) for _, text, _ in extract_pages(f) if not text.lower().startswith("#redirect")]
    text = "\n\n".join(texts)
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(kept, text.encode("utf-8"))
    except OSError:  # a read-only cache directory: extracted again next time
        pass
    return text


def news_text() -> str:
    """gensim's 300 news articles (Lee corpus), joined by blank lines."""
    return "\n\n".join(Path(_gensim_path("lee_background.cor")).read_text(encoding="utf-8").splitlines())


def polarity_sentences() -> list[tuple[str, int]]:
    """gensim's labelled movie-review sentences: (text, 1 for positive / 0 for negative)."""
    out = []
    for line in Path(_gensim_path("pang_lee_polarity.cor")).read_text(encoding="latin-1").splitlines():
        label, _, text = line.partition(" ")
        if label in ("__label__pos", "__label__neg") and text.strip():
            out.append((text.strip(), int(label == "__label__pos")))
    return out


def wikitext2(split: str = "test", source: str | Path | None = None) -> str:
    """WikiText-2 (raw) ``split``, its lines joined by ``"\\n\\n"`` (the GPTQ/OmniQuant protocol).

    ``source``: a directory with ``wiki.<split>.raw`` (the original archive), or ``None`` for the
    hub through the ``datasets`` package.
    """
    if split not in ("train", "validation", "test"):
        raise ValueError(f"split must be one of ['test', 'train', 'validation'], got {split!r}")
    if source is not None:
        raw = Path(source) / f"wiki.{'valid' if split == 'validation' else split}.raw"
        if not raw.is_file():
            raise ModelNotAvailable(f"{raw} does not exist: point source at the unpacked wikitext-2-raw-v1 directory")
        return "\n\n".join(read_text(raw, "WikiText-2 file").split("\n"))
    if importlib.util.find_spec("datasets") is None:
        raise ModelNotAvailable(
            "WikiText-2 from the hub needs the datasets package (`pip install datasets`) and network access; "
            "or pass the directory of the unpacked wikitext-2-raw-v1 archive"
        )
    import datasets

    try:
        data = datasets.load_dataset("wikitext", "wikitext-2-raw-v1", split=split)
    except Exception as err:
        raise ModelNotAvailable(f"cannot load WikiText-2 from the hub: {str(err).splitlines()[0]}") from err
    return "\n\n".join(data["text"])


def tokenize(tokenizer, text: str, tokens: int | None = None) -> torch.Tensor:
    """Token ids (no special tokens) of ``text``, or of a prefix holding at least ``tokens`` ids.

    Tokenizing a 3 M-character text costs seconds and hundreds of MB; a prefix cut at a blank line
    with room to spare (it doubles until it suffices) gives the same leading ids.
    """
    chars = len(text) if tokens is None else 8 * tokens
    while True:
        cut = len(text) if chars >= len(text) else max(text.rfind("\n\n", 0, chars), chars // 2)
        ids = tokenizer(text[:cut], add_special_tokens=False, return_tensors="pt").input_ids[0]
        if tokens is None or cut == len(text) or ids.numel() >= tokens + 64:  # margin past the cut's word
            return ids if tokens is None or cut == len(text) else ids[: tokens + 64]
        chars *= 2


def token_windows(ids: torch.Tensor, seqlen: int, count: int | None = None, *, start: int = 0) -> torch.Tensor:
    """Non-overlapping windows ``[count, seqlen]`` of a 1-D token tensor from ``start``, tail dropped."""
    if seqlen < 2:
        raise ValueError(f"seqlen must be at least 2, got {seqlen}")
    available = (ids.numel() - start) // seqlen
    count = available if count is None else count
    if count < 1 or count > available:
        raise ValueError(
            f"the text holds {available} windows of {seqlen} tokens after token {start}, asked for {count}"
        )
    return ids[start : start + count * seqlen].reshape(count, seqlen)


def sample_images() -> list[tuple[str, np.ndarray]]:
    """scikit-image's shipped RGB photographs (name, uint8 ``[H, W, 3]``)."""
    if importlib.util.find_spec("skimage") is None:
        raise ModelNotAvailable("scikit-image is not installed: run `make demo` (or `pip install scikit-image`)")
    import skimage.data

    return [(name, getattr(skimage.data, name)()) for name in IMAGE_NAMES]


def image_tensor(image: np.ndarray, size: int = 224, resize: int = 256) -> torch.Tensor:
    """Resize the short side to ``resize``, centre-crop ``size``, scale to [-1, 1]: ``[1, 3, size, size]``.

    (EfficientNet-Lite's preprocessing: ``(x / 255 - 0.5) / 0.5``.)
    """
    t = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().unsqueeze(0) / 255
    h, w = t.shape[-2:]
    scale = resize / min(h, w)
    t = torch.nn.functional.interpolate(t, size=(round(h * scale), round(w * scale)), mode="bilinear", antialias=True)
    h, w = t.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return (t[..., top : top + size, left : left + size] - 0.5) / 0.5
