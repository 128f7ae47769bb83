"""The post-training-quantization study of a model: accuracy and sparsity per scheme.

Schemes (the comparison of the paper's Figs. 14 and 18, plus 4-bit OPTQ):

- ``fp32``: the floating-point model;
- ``sym``: symmetric signed W7A7 on Sibia's bit-slice GEMM;
- ``asym``: symmetric W7, asymmetric A8 (min/max), on the AQS-GEMM;
- ``zpm``: ``asym`` with zero-point manipulation (the search variant); ``zpm-paper``: eq. 7;
- ``dbs``: ``zpm`` with distribution-based bit-slicing (target slice sparsity 0.9);
- ``optq4``: 4-bit OPTQ weights (groups of 64) with ``dbs``'s activations.

The paper's mixed precision for the architecture (:data:`PAPER_OVERRIDES`: 12-bit inputs of
Llama's down-projections, 10-bit GPT-2 MLP weights) applies to every quantized scheme unless
``paper_overrides=False``.

Data: causal LMs are evaluated by perplexity on the first ``windows`` windows of ``seqlen`` tokens
of the offline Wikipedia text and calibrated on the next ``calib_windows`` windows (disjoint);
encoders by the cosine similarity of their sentence embeddings to the float model's and by
leave-one-out polarity accuracy, on the 200 labelled sentences, calibrated on news sentences;
image classifiers by top-1 agreement with the float model on the shipped photographs, calibrated
on their mirror images. Every quantized scheme runs under :func:`capture`, so each row carries
the measured top-slice vector and slice sparsity and the work of the bit-slice GEMMs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from panacea._io import read_text
from panacea.aq.quantize import AQConfig, AQLayer, AQRecorder, aq_quantized
from panacea.data import (
    image_tensor,
    news_text,
    polarity_sentences,
    sample_images,
    token_windows,
    tokenize,
    wikipedia_text,
    wikitext2,
)
from panacea.evaluation import embeddings, perplexity, polarity_accuracy, top1
from panacea.models.loaders import LoadedModel, load_model
from panacea.quant import CalibrationConfig, QuantRecipe, calibrate_many, capture, quantized
from panacea.quant.capture import Recorder
from panacea.quant.config import paper_overrides as overrides_for
from panacea.report.schema import SchemeRecord

SCHEMES: dict[str, tuple[str, CalibrationConfig | None]] = {
    "fp32": ("FP32", None),
    "sym": ("symmetric W7A7 (Sibia)", CalibrationConfig(scheme="sym", zpm=None, dbs=False)),
    "asym": ("asymmetric W7A8", CalibrationConfig(zpm=None, dbs=False)),
    "zpm-paper": ("asym + ZPM (eq. 7)", CalibrationConfig(zpm="paper", dbs=False)),
    "zpm": ("asym + ZPM (search)", CalibrationConfig(dbs=False)),
    "dbs": ("asym + ZPM + DBS", CalibrationConfig()),
    "optq4": ("W4 OPTQ (g64) + ZPM + DBS", CalibrationConfig(w_bits=4, w_group_size=64, optq=True)),
}
DEFAULT_SCHEMES = ("fp32", "sym", "asym", "zpm", "dbs", "optq4")
# Arbitrary quantization for seed 003's accelerator (panacea.aq): codebooks instead of Panacea's formats.
AQ_SCHEMES: dict[str, tuple[str, AQConfig]] = {
    "aq": ("arbitrary W4A8 (seed 003)", AQConfig()),
}

Progress = Callable[[str, int, int], None]


@dataclass
class StudyResult:
    model: str
    kind: str
    source: str
    data: dict
    calibration_seconds: float
    schemes: list[SchemeRecord]

    def to_dict(self) -> dict:
        return {**vars(self), "schemes": [s.model_dump() for s in self.schemes]}


def stage_progress(progress: Progress | None, stage: str) -> Callable[[int, int], None] | None:
    """``progress`` bound to one stage, as the evaluation functions take it."""
    return (lambda done, total: progress(stage, done, total)) if progress else None


def run_scheme(
    model: nn.Module, task: Task, scheme: str, recipe: QuantRecipe, progress: Progress | None, *, variants: bool = False
) -> tuple[SchemeRecord, Recorder]:
    """Score ``model`` quantized by ``recipe`` with every GEMM on integers, capturing its workloads
    (and, with ``variants``, those of :func:`~panacea.quant.capture.fig18_variants`)."""
    t0 = time.perf_counter()
    result = SchemeRecord(scheme=scheme, label=SCHEMES[scheme][0], metrics={})
    with quantized(model, recipe) as qmodel, capture(qmodel, variants=variants) as rec:
        result.metrics = task.evaluate(qmodel, stage_progress(progress, scheme))
    summarize(result, rec)
    result.seconds = time.perf_counter() - t0
    return result, rec


def run_aq_scheme(
    model: nn.Module, task: Task, scheme: str, layers: dict[str, AQLayer], progress: Progress | None
) -> tuple[SchemeRecord, AQRecorder]:
    """Score ``model`` on the codebooks of ``layers`` (an :data:`AQ_SCHEMES` scheme), capturing its
    workloads. Sparsity fields: ``act_slice_sparsity`` / ``weight_slice_sparsity`` are the zero codes
    of each operand (what the zero-eliminator skips), ``bits_vs_dense`` the stored bits of both
    operands (formats chosen per block) over dense 8-bit."""
    t0 = time.perf_counter()
    config = AQ_SCHEMES[scheme][1]
    result = SchemeRecord(scheme=scheme, label=AQ_SCHEMES[scheme][0], metrics={})
    with aq_quantized(model, layers, capture=True, block=config.block, run_bits=config.run_bits) as rec:
        result.metrics = task.evaluate(model, stage_progress(progress, scheme))
    captures = list(rec.layers.values())
    w_codes = [c.workload.m * c.workload.groups * c.workload.k for c in captures]
    result.act_slice_sparsity = sum(c.act_zero / c.act_codes for c in captures) / len(captures)
    result.weight_slice_sparsity = sum(1 - c.workload.w_nonzero / n for c, n in zip(captures, w_codes, strict=True))
    result.weight_slice_sparsity /= len(captures)
    stored = sum(c.act_stored_bits + int(c.workload.w_row_bits.sum()) for c in captures)
    result.bits_vs_dense = stored / sum(8 * (c.act_codes + n) for c, n in zip(captures, w_codes, strict=True))
    result.layers = [
        {
            "name": c.workload.name,
            "calls": c.calls,
            "x_bits": c.workload.x_bits,
            "w_bits": c.workload.w_bits,
            "x_steps": c.workload.x_steps,
            "w_steps": c.workload.w_steps,
            "act_zero_codes": c.act_zero / c.act_codes,
            "act_stored_bits": c.act_stored_bits,
            "weight_stored_bits": int(c.workload.w_row_bits.sum()),
        }
        for c in captures
    ]
    result.seconds = time.perf_counter() - t0
    return result, rec


def summarize(result: SchemeRecord, rec: Recorder) -> None:
    """Fill ``result``'s sparsity and work fields from a capture."""
    layers = list(rec.layers.values())
    total = rec.total()
    result.act_vector_sparsity, result.weight_vector_sparsity = rec.mean_vector_sparsity()
    result.act_slice_sparsity = sum(c.act_slice_sparsity for c in layers) / len(layers)
    result.weight_slice_sparsity = sum(c.weight_slice_sparsity for c in layers) / len(layers)
    result.mults_vs_dense = total.mults / total.dense_mults
    result.bits_vs_dense = (total.act_bits + total.weight_bits) / (total.dense_act_bits + total.dense_weight_bits)
    result.layers = [
        {
            "name": c.name,
            "calls": c.calls,
            "tokens": c.tokens,
            "act_vector_sparsity": c.counts.act_vector_sparsity,
            "weight_vector_sparsity": c.counts.weight_vector_sparsity,
            "act_slice_sparsity": c.act_slice_sparsity,
            "weight_slice_sparsity": c.weight_slice_sparsity,
            "lo_bits": c.workload.lo_bits,
            "zero_point": c.workload.zero_point,
            "counts": c.counts.to_dict(),
        }
        for c in layers
    ]


@dataclass
class Task:
    """What a model is calibrated on and how it is scored.

    ``evaluate(model, progress)`` returns the metrics; ``fp32_first``: the metrics compare against
    the float model's outputs, so the float model must be evaluated first in the same process.
    """

    batches: list
    evaluate: Callable
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

    def evaluate(model, progress):
        return {"perplexity": perplexity(model, evaluation, batch_size=batch_size, progress=progress)}

    info = {"text": source, "seqlen": seqlen, "windows": windows, "calibration_windows": calib_windows}
    return Task(list(calibration.split(batch_size)), evaluate, info, fp32_first=False)


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

    def evaluate(model, progress):
        emb = embeddings(model, lm.tokenizer, sentences)
        reference.setdefault("fp32", emb)  # the float model is evaluated first
        cosine = float((emb * reference["fp32"]).sum(-1).mean())
        return {"embedding_cosine_to_fp32": cosine, "polarity_accuracy": polarity_accuracy(emb, labels)}

    return Task(batches, evaluate, {"sentences": len(sentences), "calibration_sentences": len(news)}, fp32_first=True)


def _image_task(data: str | None, batch_size: int):
    if data not in (None, "photos"):
        raise ValueError(f"data for an image classifier must be photos (scikit-image's), got {data!r}")
    images = torch.cat([image_tensor(img) for _, img in sample_images()])
    batches = list(images.flip(-1).split(batch_size))  # calibrate on the mirror images
    reference: dict[str, torch.Tensor] = {}

    def evaluate(model, progress):
        pred = top1(model, images)
        reference.setdefault("fp32", pred)
        return {"top1_agreement_with_fp32": float((pred == reference["fp32"]).float().mean())}

    return Task(batches, evaluate, {"images": images.shape[0]}, fp32_first=True)


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


def scheme_configs(lm: LoadedModel, schemes, paper_overrides: bool = True) -> dict[str, CalibrationConfig]:
    """The calibration configuration of every quantized scheme, with the paper's mixed precision."""
    model_type = getattr(getattr(lm.model, "config", None), "model_type", None)
    extra = overrides_for(model_type) if paper_overrides else ()
    return {s: SCHEMES[s][1].model_copy(update={"overrides": extra}) for s in schemes if SCHEMES[s][1] is not None}


def ptq_study(
    model_name: str,
    *,
    schemes: tuple[str, ...] = DEFAULT_SCHEMES,
    windows: int = 32,
    seqlen: int = 512,
    calib_windows: int = 32,
    batch_size: int = 4,
    paper_overrides: bool = True,
    progress: Progress | None = None,
) -> StudyResult:
    """Calibrate and evaluate ``model_name`` under each scheme (see the module docstring)."""
    unknown = [s for s in schemes if s not in SCHEMES]
    if unknown or not schemes:
        raise ValueError(f"schemes must be taken from {list(SCHEMES)}, got {list(schemes)}")
    lm = load_model(model_name)
    task = make_task(
        lm, tokens=windows * seqlen, calib_tokens=calib_windows * seqlen, seqlen=seqlen, batch_size=batch_size
    )
    configs = scheme_configs(lm, schemes, paper_overrides)
    start = time.perf_counter()
    recipes = calibrate_many(lm.model, task.batches, configs, progress=progress) if configs else {}
    calib_seconds = time.perf_counter() - start

    t0 = time.perf_counter()
    metrics = task.evaluate(lm.model, stage_progress(progress, "fp32"))
    fp32 = SchemeRecord(scheme="fp32", label=SCHEMES["fp32"][0], metrics=metrics)
    fp32.seconds = time.perf_counter() - t0
    results = [fp32] if "fp32" in schemes else []  # evaluated first in any case: the reference
    results += [run_scheme(lm.model, task, s, recipes[s], progress)[0] for s in schemes if s != "fp32"]
    data = dict(task.data, overrides=overrides_json(configs))
    return StudyResult(lm.name, lm.kind, lm.source, data, calib_seconds, results)


def overrides_json(configs: dict[str, CalibrationConfig]) -> list[dict]:
    """The per-layer overrides the configurations share (the paper's mixed precision), as JSON."""
    extra = next(iter(configs.values())).overrides if configs else ()
    return [o.model_dump(exclude_defaults=True) for o in extra]
