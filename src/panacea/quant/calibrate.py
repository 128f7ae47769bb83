"""Post-training calibration: model + calibration batches + config -> :class:`QuantRecipe`.

Flow (paper Fig. 6, section III-C), streaming — of the activations only the ZPM search's vector
extremes are kept:

1. Weights: symmetric per tensor, channel or group, rounded to nearest or by OPTQ (:mod:`gptq`).
2. One forward pass of the floating-point model with an :class:`ActivationObserver` on every GEMM
   input (sites fed the same tensor, like q/k/v projections, share one).
3. Per layer: the clipping range (``minmax``/``percentile``/``mse``) gives the scale and the
   calibrated zero point; ``sigma`` of the quantized activations picks the DBS type; ZPM moves the
   zero point (``paper``: eq. 7) or searches it (``search``, below).
4. ZPM search: for every candidate zero point ``z'`` of the calibrated zero point's HO bin, count
   the compressed activation vectors of the first ``zpm_search_batches`` batches at once: with
   ``q0 = round(x / scale)`` a vector is compressed for ``z'`` exactly when ``clamp(min q0 + z')``
   and ``clamp(max q0 + z')`` both fall in the bin, so each vector adds one to an interval of
   candidates. ``round(x / scale)`` is monotonic in ``x`` (a correctly rounded division by a
   positive number, then rounding), so ``min q0 = round(min x / scale)``: the pass that observes
   also keeps each vector's float minimum and maximum (2 bytes per activation for vectors of 4,
   for the search batches only), and the search needs no second pass over the model. Candidates
   whose expected quantization error (from the histogram) exceeds the calibrated zero point's by
   more than ``zpm_error_tolerance`` are discarded; among the rest, the most compressed vectors
   win, ties going to the bin's middle.

:func:`calibrate_many` calibrates several configurations with shared passes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from panacea.core.formats import ho_shift
from panacea.core.progress import Progress
from panacea.core.slicing import vector_reduce
from panacea.models.gemms import GemmSite, find_gemms
from panacea.models.run import Batch, PassObserver, SameInput, as_batches, observe
from panacea.quant.config import CalibrationConfig, LayerSettings
from panacea.quant.dbs import dbs_lo_bits
from panacea.quant.gptq import optq_weights, rtn_quantize
from panacea.quant.observers import ActivationObserver
from panacea.quant.primitives import asymmetric_qparams
from panacea.quant.recipe import LayerRecipe, QuantRecipe, sym_act_bits
from panacea.quant.zpm import zpm_zero_point


def calibrate(
    model: nn.Module,
    batches: Iterable[Batch],
    config: CalibrationConfig | None = None,
    *,
    progress: Progress | None = None,
) -> QuantRecipe:
    """Calibrate ``model`` on ``batches`` (model inputs: tensors, tuples or keyword dicts)."""
    return calibrate_many(model, batches, {"recipe": config or CalibrationConfig()}, progress=progress)["recipe"]


# --------------------------------------------------------------------------- shared passes


class _Observers:
    """One observer per distinct GEMM input of a forward pass (of ``sites``)."""

    def __init__(self, sites: list[GemmSite]):
        self.sites = sites
        self.by_site: dict[str, ActivationObserver] = {}
        self._batch = SameInput()

    def __call__(self, site: GemmSite, x: torch.Tensor) -> None:
        shared = self._batch.get(x)
        own = self.by_site.get(site.name)
        if shared is not None and (own is None or own is shared):
            self.by_site[site.name] = shared  # the very tensor a site already observed
            return
        if own is None:
            own = self.by_site[site.name] = ActivationObserver()
        own.update(x)
        self._batch.put(x, own)

    def next_batch(self) -> None:
        self._batch.clear()


class _Extremes:
    """The float minimum and maximum of every activation vector of the first batches, for the ZPM
    searches: ``by_site[(site, vector)]`` lists them per batch (shared by sites fed one tensor)."""

    def __init__(self, sites: list[GemmSite], wanted: dict[str, dict[int, int]]):
        self.sites = [s for s in sites if s.name in wanted]
        self.wanted = wanted  # site -> {vector length: batches}
        self.by_site: dict[tuple[str, int], list[tuple[torch.Tensor, torch.Tensor]]] = {}
        self.batch = 0
        self._seen = SameInput()

    def __call__(self, site: GemmSite, x: torch.Tensor) -> None:
        for vector, batches in self.wanted.get(site.name, {}).items():
            if self.batch >= batches:
                continue
            memo = self._seen.get(x) or {}
            key = (site.kind, site.groups, site.k, vector)  # the same tensor read the same way
            if key not in memo:
                cols = site.input_matrix(x).float()
                memo[key] = (vector_reduce(cols, vector, torch.amin), vector_reduce(cols, vector, torch.amax))
                self._seen.put(x, memo)
            self.by_site.setdefault((site.name, vector), []).append(memo[key])

    def next_batch(self) -> None:
        self.batch += 1
        self._seen.clear()


def _observe(
    model: nn.Module,
    sites: list[GemmSite],
    batches: list[Batch],
    extremes: _Extremes,
    progress: Progress | None,
    riders: Sequence[PassObserver],
) -> dict:
    observers = _Observers(sites)
    observe(model, batches, [observers, extremes, *riders], progress)
    missing = [s.name for s in sites if s.name not in observers.by_site]
    if missing:
        raise ValueError(
            f"GEMMs never ran on the calibration batches: {missing[:5]}{'...' if len(missing) > 5 else ''}"
        )
    return observers.by_site


@dataclass(frozen=True)
class _Search:
    """One ZPM search: a site, its scale and the HO bin ``[base, base + width)`` of candidates."""

    site: str
    scale: float
    base: int
    width: int
    qmax: int
    vector: int
    batches: int


def _interval_counts(vmin: torch.Tensor, vmax: torch.Tensor, s: _Search) -> torch.Tensor:
    """Compressed vectors per candidate zero point ``base + i``, ``i < width`` (see module docs),
    from each vector's smallest and largest ``q0``."""
    vmin, vmax = vmin.reshape(-1), vmax.reshape(-1)
    top = s.base + s.width - 1
    # clamp(vmin + z) >= base needs z >= base - vmin unless the bin starts at 0 (clamping helps)
    start = torch.full_like(vmin, s.base) if s.base == 0 else torch.clamp(s.base - vmin, min=s.base)
    end = torch.full_like(vmax, top) if top == s.qmax else torch.clamp(top - vmax, max=top)
    valid = start <= end
    start, end = (start[valid] - s.base).long(), (end[valid] - s.base).long()
    delta = (
        torch.bincount(start, minlength=s.width + 1)[: s.width + 1]
        - torch.bincount(end + 1, minlength=s.width + 1)[: s.width + 1]
    )
    return torch.cumsum(delta, 0)[: s.width]


def _search_counts(s: _Search, extremes: _Extremes) -> torch.Tensor:
    """Compressed vectors per candidate of one search over its batches, from the kept extremes."""
    counts = torch.zeros(s.width, dtype=torch.int64)
    for vmin, vmax in extremes.by_site[(s.site, s.vector)][: s.batches]:
        # Beyond +-(qmax + 1) every candidate clamps alike: clamping q0 there changes no count.
        q0min, q0max = (
            torch.round(v / s.scale).clamp_(-(s.qmax + 1), s.qmax + 1).to(torch.int32) for v in (vmin, vmax)
        )
        counts += _interval_counts(q0min, q0max, s).cpu()
    return counts


# --------------------------------------------------------------------------- per-layer parameters


@dataclass
class _Act:
    """Activation parameters of one layer under one config, before the ZPM search resolves."""

    symmetric: bool
    scale: float
    zero_point: int
    calibrated: int
    lo_bits: int
    x_range: tuple[float, float]
    sigma: float
    search: _Search | None = None


def _activation(input_site: str, obs: ActivationObserver, s: LayerSettings, c: CalibrationConfig) -> _Act:
    """``input_site``: the first site fed the same input (its ZPM search serves all of them)."""
    if c.scheme == "sym":
        qmax = 2 ** (sym_act_bits(s.x_bits) - 1) - 1
        lo, hi = obs.range(c.observer, levels=2 * qmax + 1, percentile=c.percentile, symmetric=True)
        scale = max(hi, torch.finfo(torch.float32).tiny) / qmax
        return _Act(True, scale, 0, 0, 4, (lo, hi), obs.std / scale)
    levels = 2**s.x_bits
    lo, hi = obs.range(c.observer, levels=levels, percentile=c.percentile)
    scale, z = asymmetric_qparams(lo, hi, s.x_bits)
    sigma = obs.std / scale
    lo_bits = dbs_lo_bits(sigma, c.dbs_target, x_bits=s.x_bits) if c.dbs else 4
    act = _Act(False, scale, z, z, lo_bits, (lo, hi), sigma)
    if c.zpm == "paper":
        act.zero_point = zpm_zero_point(z, lo_bits=lo_bits, x_bits=s.x_bits)
    elif c.zpm == "search":
        width = 1 << ho_shift(s.x_bits, lo_bits)
        batches = c.zpm_search_batches or 1 << 30
        act.search = _Search(input_site, scale, (z // width) * width, width, levels - 1, c.vector, batches)
    return act


def _resolve_search(act: _Act, counts: torch.Tensor, obs: ActivationObserver, c: CalibrationConfig) -> int:
    s = act.search
    cand = torch.arange(s.base, s.base + s.width, dtype=torch.float64)
    err = obs.clip_mse(-cand * s.scale, (s.qmax - cand) * s.scale, s.qmax + 1)
    allowed = err <= err[act.calibrated - s.base] * (1 + c.zpm_error_tolerance) + 1e-30
    middle = s.base + s.width // 2
    best = max(
        (i for i in range(s.width) if bool(allowed[i])),
        key=lambda i: (int(counts[i]), -abs(s.base + i - middle)),
    )
    return s.base + best


# --------------------------------------------------------------------------- the entry point


def _layer_settings(site: GemmSite, c: CalibrationConfig) -> LayerSettings | None:
    """A layer's settings; a grouped convolution stores its scales in weight groups of its per-group
    K along the stacked im2col axis, and is quantized per output channel (any other group size is
    ignored) or per tensor."""
    s = c.layer(site.name)
    if s is None or site.groups == 1:
        return s
    granularity = "tensor" if s.w_granularity == "tensor" else "channel"
    return s.model_copy(update={"w_group_size": site.k, "w_granularity": granularity})


_Settings = dict[str, dict[str, LayerSettings | None]]  # config -> site -> its settings (None: skipped)


def calibrate_many(
    model: nn.Module,
    batches: Iterable[Batch],
    configs: Mapping[str, CalibrationConfig],
    *,
    progress: Progress | None = None,
    riders: Sequence[PassObserver] = (),
) -> dict[str, QuantRecipe]:
    """Calibrate several configurations of one model on the same batches, sharing the passes.
    ``riders``: observers of another calibration (:func:`panacea.models.run.observe`) that see the
    observing pass too, so that it is not run again for them."""
    if not configs:
        raise ValueError("configs is empty")
    batches = as_batches(batches)
    sites, settings, active = _sites(model, configs)
    active_sites = [sites[n] for n in active]
    extremes = _Extremes(active_sites, _wanted_extremes(configs, active, len(batches)))
    observers = _observe(model, active_sites, batches, extremes, progress, riders)
    acts = _activations(configs, settings, active, observers)
    counts = {s: _search_counts(s, extremes) for s in {a.search for per in acts.values() for a in per.values()} if s}
    del extremes  # before the weights are quantized: the two are the largest things calibration holds
    for key, per in acts.items():
        for n, a in per.items():
            if a.search is not None:
                a.zero_point = _resolve_search(a, counts[a.search], observers[n], configs[key])
    weights = _weights(model, batches, configs, sites, settings, active)
    return {key: _recipe(c, acts[key], sites, settings[key], weights[key]) for key, c in configs.items()}


def _sites(
    model: nn.Module, configs: Mapping[str, CalibrationConfig]
) -> tuple[dict[str, GemmSite], _Settings, list[str]]:
    """The model's GEMM sites by name, each configuration's settings of each, and the sites some
    configuration quantizes (in the model's order)."""
    inventory = find_gemms(model)
    if not inventory.sites:
        extra = f"; weighted modules it cannot read: {inventory.unsupported[:5]}" if inventory.unsupported else ""
        raise ValueError(f"the model has no GEMM panacea can quantize (nn.Linear, Conv1D, nn.Conv2d){extra}")
    sites = {s.name: s for s in inventory.sites}
    settings = {key: {n: _layer_settings(sites[n], c) for n in sites} for key, c in configs.items()}
    active = sorted({n for per in settings.values() for n, st in per.items() if st is not None}, key=list(sites).index)
    if not active:
        raise ValueError("every GEMM of the model is skipped by the configuration")
    return sites, settings, active


def _wanted_extremes(configs: Mapping[str, CalibrationConfig], active: list[str], n_batches: int) -> dict:
    """The extremes the ZPM searches read (module docs): site -> {vector length: batches}."""
    wanted: dict[str, dict[int, int]] = {}
    for c in configs.values():
        if c.scheme != "sym" and c.zpm == "search":
            batches_read = c.zpm_search_batches or n_batches
            for n in active:
                per = wanted.setdefault(n, {})
                per[c.vector] = max(per.get(c.vector, 0), batches_read)
    return wanted


def _activations(
    configs: Mapping[str, CalibrationConfig], settings: _Settings, active: list[str], observers: dict
) -> dict[str, dict[str, _Act]]:
    """Each configuration's activation parameters of the layers it quantizes; sites fed one input
    share the first one's ZPM search."""
    first_reader: dict[int, str] = {}
    input_site = {n: first_reader.setdefault(id(observers[n]), n) for n in active}
    acts: dict[str, dict[str, _Act]] = {}
    for key, c in configs.items():
        quantized = [n for n in active if settings[key][n] is not None]
        acts[key] = {n: _activation(input_site[n], observers[n], settings[key][n], c) for n in quantized}
    return acts


def _weights(
    model: nn.Module,
    batches: list[Batch],
    configs: Mapping[str, CalibrationConfig],
    sites: dict[str, GemmSite],
    settings: _Settings,
    active: list[str],
) -> dict[str, dict[str, tuple[torch.Tensor, torch.Tensor]]]:
    """Each configuration's quantized weights and scales per layer, computed once per distinct
    weight quantization (OPTQ or rounding to nearest, and the layers' settings)."""
    done: dict[tuple, dict[str, tuple[torch.Tensor, torch.Tensor]]] = {}
    out = {}
    for key, c in configs.items():
        quantized = [n for n in active if settings[key][n] is not None]
        wkey = (
            (c.optq, c.optq_damp, c.optq_act_order, c.optq_block_size) if c.optq else (False,),
            tuple((n, settings[key][n]) for n in quantized),
        )
        if wkey not in done:
            if c.optq:
                done[wkey] = optq_weights(model, [sites[n] for n in quantized], settings[key], batches, c)
            else:
                done[wkey] = {n: _rtn(sites[n], settings[key][n]) for n in quantized}
        out[key] = done[wkey]
    return out


def _rtn(site: GemmSite, s: LayerSettings) -> tuple[torch.Tensor, torch.Tensor]:
    return rtn_quantize(site.weight_matrix().float(), s.w_bits, s.w_group_size, s.w_granularity)


def _recipe(
    c: CalibrationConfig,
    acts: dict[str, _Act],
    sites: dict[str, GemmSite],
    settings: dict[str, LayerSettings | None],
    weights: dict[str, tuple[torch.Tensor, torch.Tensor]],
) -> QuantRecipe:
    """The recipe of one configuration: a layer entry and its weight tensors per quantized GEMM."""
    layers, tensors = {}, {}
    for n, a in acts.items():
        site, st = sites[n], settings[n]
        layers[n] = LayerRecipe(
            name=n,
            kind=site.kind,
            k=site.k,
            m=site.m,
            groups=site.groups,
            w_bits=st.w_bits,
            w_granularity=st.w_granularity,
            w_group_size=st.w_group_size,
            x_bits=st.x_bits,
            symmetric=a.symmetric,
            x_scale=a.scale,
            zero_point=a.zero_point,
            lo_bits=a.lo_bits,
            calibrated_zero_point=a.calibrated,
            x_range=a.x_range,
            sigma=a.sigma,
        )
        w_q, w_scale = weights[n]
        tensors[f"{n}/w_q"], tensors[f"{n}/w_scale"] = w_q.cpu(), w_scale.to(torch.float32).cpu()
    skipped = [n for n in sites if n not in layers]
    return QuantRecipe(c, layers, tensors, skipped).validate()
