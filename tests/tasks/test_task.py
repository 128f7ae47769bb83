"""Each model kind's task: what it calibrates on, what it scores, and the errors for data it cannot
take."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from panacea.tasks import make_task
from panacea.tasks.task import _text


class _CountingTokenizer:
    """Token i of the text is i: windows can be checked for where they start."""

    def __call__(self, text, **_):
        return {"input_ids": list(range(len(text.split())))}


def _lm(kind: str):
    return SimpleNamespace(kind=kind, tokenizer=_CountingTokenizer(), model=None)


def test_text_task_scores_and_calibrates_on_disjoint_windows(tmp_path, monkeypatch):
    import panacea.tasks.task as task_module

    monkeypatch.setattr(task_module, "tokenize", lambda tok, text, need: torch.arange(need + 5))
    path = tmp_path / "t.txt"
    path.write_text("a b c")
    task = make_task(_lm("causal-lm"), str(path), tokens=64, calib_tokens=32, seqlen=16, batch_size=2)
    assert task.data == {"text": f"text file {path}", "seqlen": 16, "windows": 4, "calibration_windows": 2}
    calibration = torch.cat(task.batches)
    assert calibration.shape == (2, 16) and int(calibration.min()) == 64  # after the 4 scored windows
    assert not task.fp32_first


def test_text_task_needs_enough_tokens(tmp_path, monkeypatch):
    import panacea.tasks.task as task_module

    monkeypatch.setattr(task_module, "tokenize", lambda tok, text, need: torch.arange(need - 1))
    path = tmp_path / "t.txt"
    path.write_text("a b c")
    with pytest.raises(
        ValueError, match=r"holds 95 tokens; 4 evaluation and 2 calibration windows of 16 tokens need 96"
    ):
        make_task(_lm("causal-lm"), str(path), tokens=64, calib_tokens=32, seqlen=16)


def test_data_choices_by_kind(tmp_path):
    with pytest.raises(ValueError, match="data must be wikipedia, news, wikitext2"):
        _text(str(tmp_path / "missing.txt"))
    with pytest.raises(ValueError, match="data for an encoder must be polarity"):
        make_task(_lm("encoder"), "wikipedia")
    with pytest.raises(ValueError, match="data for an image classifier must be photos"):
        make_task(_lm("image-classifier"), "polarity")


def test_image_task_calibrates_on_mirror_images():
    task = make_task(_lm("image-classifier"))
    images = torch.cat(task.batches)
    assert task.fp32_first and task.data == {"images": images.shape[0]}
    assert images.shape[1] == 3
