"""One interface for every way a scheme quantizes a model, chosen by the scheme's number format.

A scheme's format picks its :class:`Quantizer` (:func:`quantizer_for`), the way torchao's
``quantize_(model, config)`` picks its path from the config's type: the bit-slice PTQ
(:class:`BitSliceQuantizer`: recipes of symmetric weights and asymmetric or symmetric activations,
ZPM and DBS, paper section III) and the arbitrary-quantization PTQ
(:class:`~panacea.quant.arbitrary.ArbitraryQuantizer`: per-layer codebooks). A quantizer
calibrates a set of configurations on the same batches, applies one calibration to the model
under a capture, and summarises the capture; a caller never asks which one it holds.

Calibrations share their passes over the data: a quantizer that needs only one observing pass
(:meth:`Quantizer.rider`) rides on the first pass of one that needs passes of its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from torch import nn

from panacea.core.formats import NumberFormat
from panacea.core.progress import Progress
from panacea.models.run import Batch, PassObserver
from panacea.quant.arbitrary import ArbitraryQuantizer
from panacea.quant.calibrate import calibrate_many
from panacea.quant.capture import Recorder, capture
from panacea.quant.inference import quantized
from panacea.quant.recipe import QuantRecipe


class Rider(PassObserver, Protocol):
    """An observer of another calibration's first pass that yields calibrations once it is over."""

    def calibrations(self) -> dict[str, Any]: ...


class Keeper(Protocol):
    """How a family's calibrations are kept in a cache entry and read back."""

    def save(self, calibrated: Any, path: Path) -> None: ...

    def load(self, path: Path) -> Any:
        """A calibration :meth:`save` wrote (raises ``ValueError`` / ``OSError`` naming the file)."""


class Quantizer(Protocol):
    """How one family of schemes quantizes a model."""

    keeper: Keeper | None  # how its calibrations are cached; ``None``: recomputed on every run

    def rider(self, model: nn.Module, batches: int, configs: Mapping[str, Any]) -> Rider | None:
        """The calibration of ``configs`` as one observing pass over ``batches`` batches, or ``None``
        when it needs passes of its own (:meth:`calibrate`)."""

    def calibrate(
        self,
        model: nn.Module,
        batches: list[Batch],
        configs: Mapping[str, Any],
        *,
        progress: Progress | None = None,
        riders: Sequence[PassObserver] = (),
    ) -> dict[str, Any]:
        """Every configuration's calibration (name -> calibration); ``riders`` see the first pass."""

    def applied(
        self, model: nn.Module, calibrated: Any, config: Any, *, variants: bool
    ) -> contextlib.AbstractContextManager[tuple[nn.Module, Any]]:
        """``model`` quantized by ``calibrated`` inside the block, with the capture of the run:
        ``(the model to run, the capture)``; ``variants``: also capture Fig. 18's formats where the
        family has them."""

    def summary(self, capture: Any) -> dict[str, Any]:
        """The run's measured sparsity and work, as fields of a scheme's record."""

    def workloads(self, capture: Any) -> dict[str, list]:
        """The run's workloads: ``"main"``, and the variants captured."""


class _Recipes:
    """Bit-slice calibrations are :class:`~panacea.quant.QuantRecipe` directories."""

    def save(self, recipe: QuantRecipe, path: Path) -> None:
        recipe.save(path)

    def load(self, path: Path) -> QuantRecipe:
        return QuantRecipe.load(path)


class BitSliceQuantizer:
    """The bit-slice PTQ (paper section III): per-layer recipes from shared calibration passes
    (:func:`~panacea.quant.calibrate_many`), run on integers (:func:`~panacea.quant.quantized`) under
    :func:`~panacea.quant.capture`."""

    keeper = _Recipes()  # calibration passes take minutes on large models

    def rider(self, model: nn.Module, batches: int, configs: Mapping[str, Any]) -> None:
        return None  # activation observers, OPTQ and the ZPM search take passes of their own

    def calibrate(self, model, batches, configs, *, progress=None, riders=()) -> dict[str, QuantRecipe]:
        return calibrate_many(model, batches, configs, progress=progress, riders=riders)

    @contextlib.contextmanager
    def applied(
        self, model: nn.Module, calibrated: QuantRecipe, config: Any, *, variants: bool
    ) -> Iterator[tuple[nn.Module, Recorder]]:
        with quantized(model, calibrated) as qmodel, capture(qmodel, variants=variants) as rec:
            yield qmodel, rec

    def summary(self, rec: Recorder) -> dict[str, Any]:
        layers = list(rec.layers.values())
        total = rec.total()
        act_vector, weight_vector = rec.mean_vector_sparsity()
        return {
            "act_vector_sparsity": act_vector,
            "weight_vector_sparsity": weight_vector,
            "act_slice_sparsity": sum(c.act_slice_sparsity for c in layers) / len(layers),
            "weight_slice_sparsity": sum(c.weight_slice_sparsity for c in layers) / len(layers),
            "mults_vs_dense": total.mults / total.dense_mults,
            "bits_vs_dense": (total.act_bits + total.weight_bits) / (total.dense_act_bits + total.dense_weight_bits),
            "layers": [
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
            ],
        }

    def workloads(self, rec: Recorder) -> dict[str, list]:
        groups: dict[str, list] = {"main": rec.workloads()}
        for layer in rec.layers.values():
            for variant, w in layer.variants.items():
                groups.setdefault(variant, []).append(w)
        return groups


# One instance per family: the schemes of one family are calibrated together (shared passes).
_BIT_SLICE, _ARBITRARY = BitSliceQuantizer(), ArbitraryQuantizer()
QUANTIZERS: dict[NumberFormat, Quantizer] = {
    "bitslice-asym": _BIT_SLICE,
    "bitslice-sym": _BIT_SLICE,
    "arbitrary": _ARBITRARY,
}


def quantizer_for(fmt: NumberFormat) -> Quantizer:
    """The quantizer of schemes in number format ``fmt``."""
    return QUANTIZERS[fmt]
