"""What a model is calibrated on and how it is scored, by the model's kind.

Causal LMs are evaluated by perplexity on the first ``tokens`` of the offline Wikipedia text (or
another ``data`` choice) in windows of ``seqlen`` tokens and calibrated on the next
``calib_tokens`` (disjoint); encoders by the cosine similarity of their sentence embeddings to the
float model's and by leave-one-out polarity accuracy, on the 200 labelled sentences, calibrated on
news sentences; image classifiers by top-1 agreement with the float model on the shipped
photographs, calibrated on their mirror images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from panacea.core.files import read_text
from panacea.models.loaders import LoadedModel
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
from panacea.tasks.metrics import embeddings, perplexity, polarity_accuracy, top1


@dataclass
class Task:
    """What a model is calibrated on and how it is scored.

    ``score(model, progress)`` returns the metrics; ``fp32_first``: the metrics compare against
    the float model's outputs, so the float model must be evaluated first in the same process.
    """

    batches: list
    score: Callable
    data: dict
    fp32_first: bool


def _text(data: str | None) -> tuple[str, str]:
    """(description, text) of a causal LM's ``data`` choice."""
    if data in (None, "wikipedia"):
        return "gensim Wikipedia dump", wikipedia_text()
    if data == "news":
        return "gensim news (Lee corpus)", news_text()
    if data == "wikitext2":
        return "WikiText-2 test (hub)", wikitext2("test")
    path = Path(data)
    if path.is_dir():
        return f"WikiText-2 test from {path}", wikitext2("test", source=path)
    if path.is_file():
        return f"text file {path}", read_text(path, "data file")
    raise ValueError(
        f"data must be wikipedia, news, wikitext2, a UTF-8 text file or a WikiText-2 directory, got {data!r}"
    )


def _text_task(lm: LoadedModel, data: str | None, tokens: int, calib_tokens: int, seqlen: int, batch_size: int):
    source, text = _text(data)
    windows, calib_windows = max(1, tokens // seqlen), max(1, calib_tokens // seqlen)
    need = (windows + calib_windows) * seqlen
    ids = tokenize(lm.tokenizer, text, need) if text.strip() else torch.zeros(0, dtype=torch.long)
    if ids.numel() < need:
        raise ValueError(
            f"data {source} holds {ids.numel()} tokens; {windows} evaluation and {calib_windows} calibration "
            f"windows of {seqlen} tokens need {need}"
        )
    evaluation = token_windows(ids, seqlen, windows)
    calibration = token_windows(ids, seqlen, calib_windows, start=windows * seqlen)

    def score(model, progress):
        return {"perplexity": perplexity(model, evaluation, batch_size=batch_size, progress=progress)}

    info = {"text": source, "seqlen": seqlen, "windows": windows, "calibration_windows": calib_windows}
    return Task(list(calibration.split(batch_size)), score, info, fp32_first=False)


def _encoder_task(lm: LoadedModel, data: str | None, batch_size: int):
    if data not in (None, "polarity"):
        raise ValueError(f"data for an encoder must be polarity (the labelled sentences), got {data!r}")
    labelled = polarity_sentences()
    sentences = [s for s, _ in labelled]
    labels = torch.tensor([y for _, y in labelled])
    news = [line for line in news_text().split("\n\n") if line.strip()][:64]
    batches = [
        dict(lm.tokenizer(news[i : i + batch_size], padding=True, truncation=True, max_length=128, return_tensors="pt"))
        for i in range(0, len(news), batch_size)
    ]
    reference: dict[str, torch.Tensor] = {}

    def score(model, progress):
        emb = embeddings(model, lm.tokenizer, sentences)
        reference.setdefault("fp32", emb)  # the float model is evaluated first
        cosine = float((emb * reference["fp32"]).sum(-1).mean())
        return {"embedding_cosine_to_fp32": cosine, "polarity_accuracy": polarity_accuracy(emb, labels)}

    return Task(batches, score, {"sentences": len(sentences), "calibration_sentences": len(news)}, fp32_first=True)


def _image_task(data: str | None, batch_size: int):
    if data not in (None, "photos"):
        raise ValueError(f"data for an image classifier must be photos (scikit-image's), got {data!r}")
    images = torch.cat([image_tensor(img) for _, img in sample_images()])
    batches = list(images.flip(-1).split(batch_size))  # calibrate on the mirror images
    reference: dict[str, torch.Tensor] = {}

    def score(model, progress):
        pred = top1(model, images)
        reference.setdefault("fp32", pred)
        return {"top1_agreement_with_fp32": float((pred == reference["fp32"]).float().mean())}

    return Task(batches, score, {"images": images.shape[0]}, fp32_first=True)


def make_task(
    lm: LoadedModel,
    data: str | None = None,
    *,
    tokens: int = 32 * 512,
    calib_tokens: int = 32 * 512,
    seqlen: int = 512,
    batch_size: int = 4,
) -> Task:
    """The task of ``lm`` by its kind (module docstring); ``data``: for causal LMs ``wikipedia``
    (default), ``news``, ``wikitext2`` (hub), a UTF-8 text file or a WikiText-2 directory, scored
    on ``tokens`` and calibrated on the next ``calib_tokens`` in windows of ``seqlen``; encoders
    take ``polarity``, image classifiers ``photos`` (their defaults)."""
    if lm.kind == "causal-lm":
        return _text_task(lm, data, tokens, calib_tokens, seqlen, batch_size)
    if lm.kind == "encoder":
        return _encoder_task(lm, data, batch_size=16)
    return _image_task(data, batch_size=8)
