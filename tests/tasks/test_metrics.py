"""Accuracy metrics."""

from __future__ import annotations

import math

import pytest
import torch
from tiny_models import tiny_cnn, tiny_llama, token_batches

from panacea.tasks.metrics import perplexity, polarity_accuracy, top1


def test_perplexity_is_exp_of_the_mean_token_loss():
    model = tiny_llama()
    windows = torch.cat(token_batches(96, 2))  # [4, 16]
    with torch.no_grad():
        losses = [model(w.unsqueeze(0), labels=w.unsqueeze(0)).loss for w in windows]  # per-window mean
    expected = math.exp(float(torch.stack(losses).mean()))  # equal-length windows: mean of means
    assert perplexity(model, windows, batch_size=3) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="windows must be"):
        perplexity(model, windows[0])


def test_polarity_accuracy_leave_one_out():
    gen = torch.Generator().manual_seed(0)
    labels = torch.tensor([0] * 10 + [1] * 10)
    emb = torch.nn.functional.normalize(torch.randn(20, 8, generator=gen) * 0.1 + labels.unsqueeze(1) * 2 - 1, dim=-1)
    assert polarity_accuracy(emb, labels) == 1.0  # separable
    # one class-0 sentence that points at class 1: only it is misclassified
    moved = emb.clone()
    moved[0] = emb[15]
    assert polarity_accuracy(moved, labels) == 19 / 20
    with pytest.raises(ValueError, match="at least two sentences of each class"):
        polarity_accuracy(emb[:11], labels[:11])


def test_top1():
    images = torch.randn(5, 3, 12, 12)
    pred = top1(tiny_cnn(), images, batch_size=2)
    assert pred.shape == (5,) and pred.dtype == torch.int64
