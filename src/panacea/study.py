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
from dataclasses import asdict, dataclass, field

import torch

from panacea.data import (
    image_tensor,
    news_text,
    polarity_sentences,
    sample_images,
    token_windows,
    tokenize,
    wikipedia_text,
)
from panacea.evaluation import embeddings, perplexity, polarity_accuracy, top1
from panacea.models.loaders import LoadedModel, load_model
from panacea.quant import CalibrationConfig, calibrate_many, capture, quantized
from panacea.quant.capture import Recorder
from panacea.quant.config import paper_overrides as overrides_for

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

Progress = Callable[[str, int, int], None]


@dataclass
class SchemeResult:
    """One scheme's accuracy and, for quantized schemes, what its GEMMs cost."""

    scheme: str
    label: str
    metrics: dict[str, float]
    act_vector_sparsity: float | None = None  # mean over layers
    weight_vector_sparsity: float | None = None
    act_slice_sparsity: float | None = None
    weight_slice_sparsity: float | None = None
    mults_vs_dense: float | None = None  # 4b x 4b multiplications / dense bit-slice GEMM, all layers
    bits_vs_dense: float | None = None
    layers: list[dict] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class StudyResult:
    model: str
    kind: str
    source: str
    data: dict
    calibration_seconds: float
    schemes: list[SchemeResult]

    def to_dict(self) -> dict:
        return asdict(self)


def _summary(result: SchemeResult, rec: Recorder) -> None:
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


def _text_task(lm: LoadedModel, windows: int, seqlen: int, calib_windows: int, batch_size: int):
    ids = tokenize(lm.tokenizer, wikipedia_text(), (windows + calib_windows) * seqlen)
    evaluation = token_windows(ids, seqlen, windows)
    calibration = token_windows(ids, seqlen, calib_windows, start=windows * seqlen)
    batches = list(calibration.split(batch_size))

    def evaluate(model, progress):
        return {"perplexity": perplexity(model, evaluation, batch_size=batch_size, progress=progress)}

    data = {"text": "gensim Wikipedia dump", "seqlen": seqlen, "windows": windows, "calibration_windows": calib_windows}
    return batches, evaluate, data


def _encoder_task(lm: LoadedModel, batch_size: int):
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

    return batches, evaluate, {"sentences": len(sentences), "calibration_sentences": len(news)}


def _image_task(batch_size: int):
    images = torch.cat([image_tensor(img) for _, img in sample_images()])
    batches = list(images.flip(-1).split(batch_size))  # calibrate on the mirror images
    reference: dict[str, torch.Tensor] = {}

    def evaluate(model, progress):
        pred = top1(model, images)
        reference.setdefault("fp32", pred)
        return {"top1_agreement_with_fp32": float((pred == reference["fp32"]).float().mean())}

    return batches, evaluate, {"images": images.shape[0]}


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
    if lm.kind == "causal-lm":
        batches, evaluate, data = _text_task(lm, windows, seqlen, calib_windows, batch_size)
    elif lm.kind == "encoder":
        batches, evaluate, data = _encoder_task(lm, batch_size=16)
    else:
        batches, evaluate, data = _image_task(batch_size=8)

    def stage(name):
        return (lambda done, total: progress(name, done, total)) if progress else None

    extra = overrides_for(getattr(getattr(lm.model, "config", None), "model_type", None)) if paper_overrides else ()
    configs = {s: SCHEMES[s][1].model_copy(update={"overrides": extra}) for s in schemes if SCHEMES[s][1] is not None}
    start = time.perf_counter()
    recipes = calibrate_many(lm.model, batches, configs, progress=progress) if configs else {}
    calib_seconds = time.perf_counter() - start

    results = []
    for s in ("fp32", *[s for s in schemes if s != "fp32"]):  # fp32 first: the reference
        t0 = time.perf_counter()
        result = SchemeResult(s, SCHEMES[s][0], {})
        if s == "fp32":
            result.metrics = evaluate(lm.model, stage("fp32"))
        else:
            with quantized(lm.model, recipes[s]) as qmodel, capture(qmodel) as rec:
                result.metrics = evaluate(qmodel, stage(s))
            _summary(result, rec)
        result.seconds = time.perf_counter() - t0
        if s in schemes:
            results.append(result)
    data["overrides"] = [o.model_dump(exclude_defaults=True) for o in extra]
    return StudyResult(lm.name, lm.kind, lm.source, data, calib_seconds, results)
