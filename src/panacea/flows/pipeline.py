"""Running schemes on a model: calibrate, score with every GEMM on integers, capture the workloads.

One path for every format: :func:`calibrate` calibrates the bit-slice schemes with shared passes
(:func:`~panacea.quant.calibrate_many`) and the arbitrary ones with their codebooks
(:func:`~panacea.quant.arbitrary.calibrate_aq`), all from one observing pass; :func:`run` scores the
quantized model on the task under a capture and returns the scheme's record (accuracy, measured
sparsity, work) and its workloads: ``"main"``, plus for bit-slice schemes with ``variants`` those of
:func:`~panacea.quant.capture.fig18_variants`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from torch import nn

from panacea.core.progress import Progress, stage_progress
from panacea.models.run import as_batches, observe
from panacea.quant import QuantRecipe, calibrate_many, capture, quantized
from panacea.quant.arbitrary import AQLayer, AQRecorder, AQSamples, aq_quantized
from panacea.quant.capture import Recorder
from panacea.results.schema import SchemeRecord
from panacea.schemes import ArbitraryScheme, BitSliceScheme, Scheme
from panacea.workload import Workload

if TYPE_CHECKING:
    from panacea.flows.ptq import Task

Calibrated = QuantRecipe | dict[str, AQLayer]


@dataclass
class SchemeRun:
    record: SchemeRecord
    workloads: dict[str, list[Workload]]


def calibrate(
    model: nn.Module, batches: list, schemes: Sequence[Scheme], progress: Progress | None = None
) -> dict[str, Calibrated]:
    """Every scheme's calibration: a :class:`QuantRecipe` (bit-slice) or codebooks (arbitrary), all
    from one observing pass over the batches."""
    batches = as_batches(batches)
    bit_slice = {s.name: s.calibration for s in schemes if isinstance(s, BitSliceScheme)}
    arbitrary = {
        s.name: AQSamples(model, len(batches), s.calibration) for s in schemes if isinstance(s, ArbitraryScheme)
    }
    out: dict[str, Calibrated] = {}
    if bit_slice:
        out |= calibrate_many(model, batches, bit_slice, progress=progress, riders=list(arbitrary.values()))
    elif arbitrary:
        observe(model, batches, list(arbitrary.values()), progress)
    return out | {name: samples.layers() for name, samples in arbitrary.items()}


def run(
    model: nn.Module,
    task: Task,
    scheme: Scheme,
    calibrated: Calibrated,
    progress: Progress | None = None,
    *,
    variants: bool = False,
) -> SchemeRun:
    """Score ``model`` quantized by ``scheme``'s ``calibrated`` parameters, capturing its workloads."""
    t0 = time.perf_counter()
    record = SchemeRecord(
        scheme=scheme.name,
        label=scheme.label,
        format=scheme.format,
        calibration=scheme.calibration.model_dump(mode="json"),
        metrics={},
    )
    if isinstance(scheme, BitSliceScheme):
        with quantized(model, calibrated) as qmodel, capture(qmodel, variants=variants) as rec:
            record.metrics = task.evaluate(qmodel, stage_progress(progress, scheme.name))
        _summarize_bit_slice(record, rec)
        workloads: dict[str, list[Workload]] = {"main": rec.workloads()}
        for layer in rec.layers.values():
            for variant, w in layer.variants.items():
                workloads.setdefault(variant, []).append(w)
    else:
        c = scheme.calibration
        with aq_quantized(model, calibrated, capture=True, block=c.block, run_bits=c.run_bits) as rec:
            record.metrics = task.evaluate(model, stage_progress(progress, scheme.name))
        _summarize_arbitrary(record, rec)
        workloads = {"main": rec.workloads()}
    record.seconds = time.perf_counter() - t0
    return SchemeRun(record, workloads)


def _summarize_bit_slice(result: SchemeRecord, rec: Recorder) -> None:
    """Sparsity and work fields from a bit-slice capture."""
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


def _summarize_arbitrary(result: SchemeRecord, rec: AQRecorder) -> None:
    """Sparsity fields of codebook codes: ``act_slice_sparsity`` / ``weight_slice_sparsity`` are
    the zero codes of each operand (what the zero-eliminator skips), ``bits_vs_dense`` the stored
    bits of both operands (formats chosen per block) over dense 8-bit."""
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
