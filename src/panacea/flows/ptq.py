"""The post-training-quantization study of a model: accuracy and sparsity per scheme.

Schemes are data (:mod:`panacea.schemes`: shipped names or TOML files) under a profile
(``accurate`` by default, or ``paper``), whose per-architecture mixed precision (12-bit inputs of
Llama's down-projections, 10-bit GPT-2 MLP weights) applies to every bit-slice scheme unless
``paper_overrides=False``; ``fp32`` is the floating-point model. Each model kind's data and metrics
are its task's (:mod:`panacea.tasks.task`); the schemes run through the one pipeline
(:mod:`panacea.flows.pipeline`), every quantized scheme under a capture, so each row carries the
measured top-slice vector and slice sparsity and the work of the bit-slice GEMMs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from panacea.core.progress import Progress
from panacea.flows.pipeline import RunConfig, run_schemes
from panacea.models.device import resolve_device
from panacea.results.schema import SchemeRecord
from panacea.schemes import SHIPPED_SCHEMES, check_assumptions

DEFAULT_SCHEMES = ("fp32", "sym", "asym", "zpm", "dbs", "optq4")


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


def ptq_study(
    model_name: str,
    *,
    schemes: tuple[str, ...] = DEFAULT_SCHEMES,
    profile: str = "accurate",
    assumptions: Mapping[str, object] | None = None,
    windows: int = 32,
    seqlen: int = 512,
    calib_windows: int = 32,
    batch_size: int = 4,
    paper_overrides: bool = True,
    device: str = "cpu",
    stream: bool = True,
    progress: Progress | None = None,
) -> StudyResult:
    """Calibrate and evaluate ``model_name`` under each scheme (see the module docstring); ``fp32``
    among ``schemes`` adds the float model's row (it is evaluated first in any case);
    ``assumptions``: calibration fields for every scheme that leaves them unset, over ``profile``;
    ``device`` / ``stream``: as :class:`panacea.flows.evaluate.EvaluateConfig` takes them."""
    if not schemes:
        raise ValueError(f"schemes must be fp32 and shipped schemes {list(SHIPPED_SCHEMES)} or TOML files, got none")
    resolve_device(device)
    if assumptions:
        check_assumptions(assumptions, "assumptions")
    config = RunConfig(
        model=model_name,
        schemes=tuple(s for s in schemes if s != "fp32"),
        profile=profile,
        assumptions=dict(assumptions or {}),
        tokens=windows * seqlen,
        calib_tokens=calib_windows * seqlen,
        seqlen=seqlen,
        batch_size=batch_size,
        paper_overrides=paper_overrides,
        stream=stream,
        device=device,
    )
    runs = run_schemes(config, progress=progress, variants=False)
    fp32 = SchemeRecord(scheme="fp32", label="FP32", metrics=runs.fp32)
    fp32.seconds = runs.fp32_seconds
    results = [fp32] if "fp32" in schemes else []  # evaluated first in any case: the reference
    results += list(runs.records.values())
    task_data = {k: v for k, v in runs.data.items() if k != "overrides"}
    data = dict(task_data, profile=profile, assumptions=dict(assumptions or {}), overrides=runs.data["overrides"])
    return StudyResult(
        runs.model["name"], runs.model["kind"], runs.model["source"], data, runs.calibration_seconds, results
    )
