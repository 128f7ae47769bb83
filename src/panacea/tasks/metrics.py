"""Accuracy of a (quantized) model: perplexity, sentence embeddings, image classification.

- :func:`perplexity`: the GPTQ protocol over non-overlapping windows: ``exp`` of the mean
  next-token cross-entropy over every predicted token of every window.
- :func:`embeddings`: sentence embeddings the sentence-transformers way for all-MiniLM-L6-v2 (mean
  of the token states under the attention mask, L2-normalised); :func:`polarity_accuracy`:
  leave-one-out nearest-centroid accuracy of labelled sentences from their embeddings (no training).
- :func:`top1`: the predicted class per image; compared with the float model's for agreement.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from panacea.core.progress import StepProgress
from panacea.models.run import inference


def perplexity(
    model: nn.Module, windows: torch.Tensor, *, batch_size: int = 4, progress: StepProgress | None = None
) -> float:
    """Perplexity of a causal LM over token ``windows[n, seqlen]``."""
    if windows.ndim != 2 or windows.shape[1] < 2:
        raise ValueError(f"windows must be [count, seqlen >= 2] token ids, got shape {tuple(windows.shape)}")
    nll, tokens = 0.0, 0
    with inference(model):
        for i in range(0, windows.shape[0], batch_size):
            ids = windows[i : i + batch_size]
            logits = model(ids).logits
            # One window at a time: a window's logits are a contiguous view, so no copy of the
            # whole batch's (1 GB for four 512-token windows at Llama-3's 128k vocabulary).
            for window, target in zip(logits, ids, strict=True):
                nll += float(nn.functional.cross_entropy(window[:-1].float(), target[1:], reduction="sum"))
            tokens += ids[:, 1:].numel()
            if progress:
                progress(min(i + batch_size, windows.shape[0]), windows.shape[0])
    return math.exp(nll / tokens)


def embeddings(model: nn.Module, tokenizer, sentences: list[str], *, batch_size: int = 32) -> torch.Tensor:
    """L2-normalised mean-pooled sentence embeddings ``[len(sentences), hidden]``."""
    out = []
    with inference(model):
        for i in range(0, len(sentences), batch_size):
            enc = tokenizer(
                sentences[i : i + batch_size], padding=True, truncation=True, max_length=128, return_tensors="pt"
            )
            states = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
            out.append(nn.functional.normalize(pooled, dim=-1))
    return torch.cat(out)


def polarity_accuracy(emb: torch.Tensor, labels: torch.Tensor) -> float:
    """Leave-one-out nearest-centroid accuracy: each sentence against the class means of the others."""
    labels = labels.to(torch.int64)
    counts = torch.bincount(labels, minlength=2).to(emb.dtype)
    if labels.min() < 0 or labels.max() > 1 or bool((counts < 2).any()):
        raise ValueError("polarity_accuracy needs labels 0/1 with at least two sentences of each class")
    sums = torch.zeros(2, emb.shape[1], dtype=emb.dtype).index_add_(0, labels, emb)
    own = nn.functional.normalize((sums[labels] - emb) / (counts[labels] - 1).unsqueeze(1), dim=-1)
    other = nn.functional.normalize(sums[1 - labels] / counts[1 - labels].unsqueeze(1), dim=-1)
    correct = (own * emb).sum(-1) > (other * emb).sum(-1)
    return int(correct.sum()) / emb.shape[0]


def top1(model: nn.Module, images: torch.Tensor, *, batch_size: int = 8) -> torch.Tensor:
    """Predicted class of each image ``[n, 3, H, W]``."""
    with inference(model):
        logits = [model(images[i : i + batch_size]) for i in range(0, images.shape[0], batch_size)]
    logits = torch.cat([getattr(x, "logits", x) for x in logits])
    return logits.argmax(dim=-1)
