"""Our number for each of the paper's claims (:mod:`panacea.results.paper`), from ``panacea evaluate``'s
:class:`~panacea.results.Results` or from the Fig. 13 sweep.

A claim's ``metric`` names one of the functions registered here; it returns None where the run
lacks what the metric reads (a scheme or design that was not run). Every metric reads the runs
as the report tables do (Panacea on its headline scheme, every other design on its own), so the
reproduction and ``panacea evaluate``'s tables agree.
"""

from __future__ import annotations

from collections.abc import Callable
from statistics import fmean

from panacea.results.queries import ablation_steps, fig18_pairs, fig19_pairs, headline, main_scheme, panacea_headline
from panacea.results.schema import CostRecord, Results, SchemeRecord

ModelMetric = Callable[..., float | None]
MODEL_METRICS: dict[str, ModelMetric] = {}
SWEEP_METRICS: dict[str, Callable[..., float | None]] = {}
ACCURACY_METRICS = ("polarity_accuracy", "top1_agreement_with_fp32")  # accuracies in [0, 1], for %p


def _model_metric(fn: ModelMetric) -> ModelMetric:
    MODEL_METRICS[fn.__name__] = fn
    return fn


def _sweep_metric(fn):
    SWEEP_METRICS[fn.__name__] = fn
    return fn


def _main(res: Results) -> SchemeRecord | None:
    name = main_scheme({s.scheme: s.format for s in res.schemes})
    return None if name is None else res.scheme(name)


def _design(res: Results, accelerator: str) -> CostRecord | None:
    """``accelerator`` as designed on its own scheme (what the accelerator table shows)."""
    return next((c for c in headline(res) if c.accelerator == accelerator), None)


def _pair(res: Results, accelerator: str) -> tuple[CostRecord, CostRecord] | None:
    ref, other = panacea_headline(res), _design(res, accelerator)
    return None if ref is None or other is None else (ref, other)


def _layer_gains(before: SchemeRecord | None, after: SchemeRecord | None) -> list[tuple[float, dict, dict]]:
    """(gain in activation slice sparsity, layer before, layer after) per layer of both schemes."""
    if before is None or after is None:
        return []
    by_name = {layer["name"]: layer for layer in before.layers}
    return [
        (layer["act_slice_sparsity"] - by_name[layer["name"]]["act_slice_sparsity"], by_name[layer["name"]], layer)
        for layer in after.layers
        if layer["name"] in by_name and "act_slice_sparsity" in layer
    ]


@_model_metric
def ee_gain(res: Results, designs: list[str]) -> float | None:
    """Panacea's TOPS/W over each design's, averaged over ``designs``."""
    pairs = [_pair(res, d) for d in designs]
    return None if None in pairs else fmean(p.tops_per_watt / o.tops_per_watt for p, o in pairs)


@_model_metric
def speedup(res: Results, designs: list[str]) -> float | None:
    """Each design's latency over Panacea's (same MACs), averaged over ``designs``."""
    pairs = [_pair(res, d) for d in designs]
    return None if None in pairs else fmean(o.cycles / p.cycles for p, o in pairs)


@_model_metric
def mult_reduction(res: Results) -> float | None:
    main = _main(res)
    return None if main is None or main.mults_vs_dense is None else 1 - main.mults_vs_dense


@_model_metric
def dram_reduction_vs_sibia(res: Results) -> float | None:
    pair = _pair(res, "sibia")
    if pair is None:
        return None
    p, s = pair
    return 1 - (p.dram_bits_read + p.dram_bits_written) / (s.dram_bits_read + s.dram_bits_written)


@_model_metric
def sram_reduction_vs_sibia(res: Results) -> float | None:
    pair = _pair(res, "sibia")
    if pair is None or not pair[0].sram_bits or not pair[1].sram_bits:
        return None  # a results file that records no SRAM traffic
    return 1 - sum(pair[0].sram_bits.values()) / sum(pair[1].sram_bits.values())


def _zpm_layer(res: Results) -> tuple[float, dict, dict] | None:
    """The layer whose activation slice sparsity ZPM (``zpm`` over ``asym``) raises most."""
    gains = _layer_gains(res.scheme("asym"), res.scheme("zpm"))
    return max(gains, key=lambda g: g[0]) if gains else None


@_model_metric
def zpm_max_gain(res: Results) -> float | None:
    layer = _zpm_layer(res)
    return None if layer is None else layer[0]


@_model_metric
def zpm_layer_sparsity(res: Results) -> float | None:
    layer = _zpm_layer(res)
    return None if layer is None else layer[2]["act_slice_sparsity"]


@_model_metric
def zpm_layer_ops(res: Results) -> float | None:
    layer = _zpm_layer(res)
    return None if layer is None else 1 - layer[2]["counts"]["mults"] / layer[1]["counts"]["mults"]


@_model_metric
def dbs_mean_gain(res: Results) -> float | None:
    zpm, dbs = res.scheme("zpm"), res.scheme("dbs")
    if zpm is None or dbs is None or not zpm.act_slice_sparsity:
        return None
    return dbs.act_slice_sparsity / zpm.act_slice_sparsity - 1


@_model_metric
def dbs_max_gain(res: Results) -> float | None:
    gains = _layer_gains(res.scheme("zpm"), res.scheme("dbs"))
    return max(g[0] for g in gains) if gains else None


@_model_metric
def dbs_ee_gain(res: Results) -> float | None:
    ref = panacea_headline(res)
    zpm = None if ref is None else res.cost(ref.accelerator, "zpm")
    dbs = None if ref is None else res.cost(ref.accelerator, "dbs")
    return None if zpm is None or dbs is None else dbs.tops_per_watt / zpm.tops_per_watt - 1


@_model_metric
def dbs_accuracy_loss(res: Results) -> float | None:
    """Accuracy (polarity, or top-1 agreement) of ``zpm`` minus that of ``dbs``."""
    zpm, dbs = res.scheme("zpm"), res.scheme("dbs")
    metric = next((m for m in ACCURACY_METRICS if m in res.fp32), None)
    return None if zpm is None or dbs is None or metric is None else zpm.metrics[metric] - dbs.metrics[metric]


@_model_metric
def perplexity_ratio(res: Results) -> float | None:
    main = _main(res)
    return None if main is None or "perplexity" not in res.fp32 else main.metrics["perplexity"] / res.fp32["perplexity"]


@_model_metric
def ablation(res: Results, step: str, quantity: str) -> float | None:
    """The energy or throughput change of one step of Fig. 15's ablation over the step before."""
    steps = ablation_steps(res)
    i = next((i for i, (label, _) in enumerate(steps) if label == step), None)
    if not i:  # absent, or the first step (nothing before it)
        return None
    before, after = steps[i - 1][1], steps[i][1]
    return after.energy_j / before.energy_j - 1 if quantity == "energy" else after.tops / before.tops - 1


@_model_metric
def fig18a(res: Results, quantity: str) -> float | None:
    """Panacea's AQS run over the symmetric integers with zero point 128 (Fig. 18(a))."""
    pair = next(((aqs, other) for panel, _, aqs, other in fig18_pairs(res) if panel == "(a)"), None)
    if pair is None:
        return None
    aqs, other = pair
    return aqs.tops_per_watt / other.tops_per_watt if quantity == "energy_efficiency" else aqs.tops / other.tops


@_model_metric
def fig19_energy(res: Results, bits: int) -> float | None:
    pair = fig19_pairs(res).get(bits)
    return None if pair is None else pair[0].energy_j / pair[1].energy_j


@_model_metric
def fig19_latency(res: Results, bits: int) -> float | None:
    pair = fig19_pairs(res).get(bits)
    return None if pair is None else pair[1].seconds / pair[0].seconds


@_sweep_metric
def sweep_speedup(summary: dict[str, float], design: str) -> float | None:
    return summary.get(f"max speedup over {design}")


@_sweep_metric
def sweep_dtp_gain(summary: dict[str, float]) -> float | None:
    return next((v for k, v in summary.items() if k.startswith("DTP gain")), None)


# The claims whose metric the sensitivity table varies: (metric, designs) -> its name there.
SENSITIVITY_METRICS = {
    ("speedup", ("sibia",)): "speed-up over Sibia",
    ("ee_gain", ("sibia",)): "EE gain over Sibia",
    ("speedup", ("simd",)): "speed-up over SIMD",
    ("ee_gain", ("simd",)): "EE gain over SIMD",
}
