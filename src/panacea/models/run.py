"""Running a model on calibration batches, and finding its repeated blocks."""

from __future__ import annotations

import contextlib
import inspect
import weakref
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import torch
from torch import nn

from panacea.core.progress import Progress
from panacea.models.gemms import GemmSite

Batch = Any  # a tensor (positional input), a tuple/list (positional inputs) or a dict (keyword inputs)


@contextlib.contextmanager
def inference(model: nn.Module) -> Iterator[None]:
    """Eval mode, no autograd, and no KV cache (Hugging Face ``config.use_cache``), restored after."""
    was_training = model.training
    config = getattr(model, "config", None)
    use_cache = getattr(config, "use_cache", None)
    model.eval()
    if use_cache:
        config.use_cache = False
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)
        if use_cache:
            config.use_cache = use_cache


def _takes(model: nn.Module, name: str) -> bool:
    try:
        return name in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def forward(model: nn.Module, batch: Batch, *, logits: bool = True) -> Any:
    """Call ``model`` on one batch: ``model(**batch)``, ``model(*batch)`` or ``model(batch)``.

    ``logits=False``: the caller does not need the output head's result; Hugging Face causal LMs
    then compute logits for the last position only (``logits_to_keep=1``), saving the head's
    ``tokens x vocabulary`` product and its memory.
    """
    extra = {"logits_to_keep": 1} if not logits and _takes(model, "logits_to_keep") else {}
    if isinstance(batch, dict):
        return model(**batch, **extra)
    if isinstance(batch, (tuple, list)):
        return model(*batch, **extra)
    return model(batch, **extra)


def output_head_needed(model: nn.Module, sites: Sequence[GemmSite]) -> bool:
    """Whether one of ``sites`` is the model's output head (Hugging Face ``get_output_embeddings``)."""
    get = getattr(model, "get_output_embeddings", None)
    head = get() if callable(get) else None
    return head is not None and any(s.module is head for s in sites)


def as_batches(batches: Any) -> list[Batch]:
    """Materialise calibration batches (they are read several times); at least one is required."""
    if isinstance(batches, torch.Tensor):
        batches = [batches]
    try:
        out = list(batches)
    except TypeError as err:
        raise TypeError(f"batches must be an iterable of model inputs, got {type(batches).__name__}") from err
    if not out:
        raise ValueError("batches is empty: calibration needs at least one batch of model inputs")
    return out


class SameInput:
    """A memo keyed by the identity of an input tensor within one forward pass.

    Sites fed the very same tensor object (q/k/v projections, gate/up) can share work on it. The
    identity is the object, checked through a weak reference: a tensor freed mid-pass may see its
    ``id()`` or its memory reused by another one, which must not match.
    """

    def __init__(self):
        self._memo: dict[int, tuple[weakref.ref, Any]] = {}

    def get(self, x: torch.Tensor) -> Any:
        entry = self._memo.get(id(x))
        return entry[1] if entry is not None and entry[0]() is x else None

    def put(self, x: torch.Tensor, value: Any) -> None:
        self._memo[id(x)] = (weakref.ref(x), value)

    def clear(self) -> None:
        self._memo.clear()


@contextlib.contextmanager
def input_hooks(sites: Sequence[GemmSite], fn) -> Iterator[None]:
    """Call ``fn(site, x)`` with each site's input tensor whenever the site runs."""
    handles = [site.module.register_forward_pre_hook(lambda _m, args, site=site: fn(site, args[0])) for site in sites]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


class PassObserver(Protocol):
    """What :func:`observe` feeds: the inputs of its ``sites`` as they run, then ``next_batch()``
    after every batch."""

    sites: Sequence[GemmSite]

    def __call__(self, site: GemmSite, x: torch.Tensor) -> None: ...

    def next_batch(self) -> None: ...


def observe(
    model: nn.Module,
    batches: Sequence[Batch],
    observers: Sequence[PassObserver],
    progress: Progress | None = None,
) -> None:
    """One forward pass of ``model`` over ``batches`` in inference mode, every observer seeing the
    inputs of its sites (in the order given, where sites are shared): several calibrations share
    the pass. The output head's logits are computed only if an observer reads the head."""
    readers: dict[str, tuple[GemmSite, list[PassObserver]]] = {}
    for o in observers:
        for site in o.sites:
            readers.setdefault(site.name, (site, []))[1].append(o)
    sites = [site for site, _ in readers.values()]

    def hook(site: GemmSite, x: torch.Tensor) -> None:
        for o in readers[site.name][1]:
            o(site, x)

    logits = output_head_needed(model, sites)
    with inference(model), input_hooks(sites, hook):
        for i, b in enumerate(batches):
            forward(model, b, logits=logits)
            for o in observers:
                o.next_batch()
            if progress:
                progress("observe", i + 1, len(batches))


def find_blocks(model: nn.Module, sites: Sequence[GemmSite]) -> tuple[nn.ModuleList, list[list[GemmSite]]] | None:
    """The model's repeated blocks: the ``nn.ModuleList`` of two or more modules holding the most
    GEMM sites (transformer layers, EfficientNet blocks), with the sites of each block; ``None``
    if there is none. Blocks are assumed to run in order, each on the previous one's output."""
    by_module = {id(s.module): s for s in sites}
    best, best_count = None, 0
    for _, module in model.named_modules():
        if not isinstance(module, nn.ModuleList) or len(module) < 2:
            continue
        per_block = [[by_module[id(m)] for m in block.modules() if id(m) in by_module] for block in module]
        count = sum(map(len, per_block))
        if count > best_count:
            best, best_count = (module, per_block), count
    return best
