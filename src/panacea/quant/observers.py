"""Streaming statistics of a GEMM input: min/max and a histogram that grows with the data.

The histogram keeps ``bins`` bins over ``[origin, origin + bins * width)``. When new values fall
outside, the width doubles (pairs of bins merge exactly) and the origin moves by whole old bins
until the data fit, so memory stays constant and no value is ever re-read: calibration never keeps
activations (torch.ao's HistogramObserver does the same job with re-interpolation).

From the statistics: the range by ``minmax``, ``percentile`` or ``mse`` (the clipping range that
minimises the expected squared error of uniform quantization, searched over a grid, from the
histogram), and the standard deviation that DBS needs.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

RangeMethod = Literal["minmax", "percentile", "mse"]
RANGE_METHODS = ("minmax", "percentile", "mse")


class ActivationObserver:
    """Min, max, count and a growing histogram of every value passed to :meth:`update`."""

    def __init__(self, bins: int = 2048):
        if bins < 16 or bins & (bins - 1):
            raise ValueError(f"bins must be a power of two >= 16, got {bins}")
        self.bins = bins
        self.count = 0
        self.min = math.inf
        self.max = -math.inf
        self.hist = torch.zeros(bins, dtype=torch.float64)
        self.origin = 0.0
        self.width = 0.0
        self.total = 0.0  # sum, for the mean
        self.total_sq = 0.0  # sum of squares, for sigma

    def update(self, x: torch.Tensor) -> None:
        x = x.detach().reshape(-1).to(torch.float32)
        if x.numel() == 0:
            return
        lo, hi = (float(v) for v in torch.aminmax(x))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError("activations hold NaN or Inf: the model produced non-finite values during calibration")
        if self.count == 0:
            span = max(hi - lo, abs(hi), 1e-12)
            self.width = 2.0 ** math.ceil(math.log2(span / self.bins))
            self.origin = math.floor(lo / self.width) * self.width
        self._cover(lo, hi)
        # float64 binning is exact (the origin and the width are multiples of a power of two), so
        # bin assignment agrees with the merged grid whatever the order of the data.
        x64 = x.to(torch.float64)
        idx = ((x64 - self.origin) / self.width).floor_().clamp_(0, self.bins - 1).to(torch.int64)
        self.hist += torch.bincount(idx, minlength=self.bins).to(self.hist)  # counted where x is
        self.count += x.numel()
        self.min, self.max = min(self.min, lo), max(self.max, hi)
        self.total += float(x64.sum())
        self.total_sq += float(x64.square().sum())

    def _cover(self, lo: float, hi: float) -> None:
        """Grow the histogram until ``[lo, hi]`` fits: the width doubles until the data and the old
        bins fit on an aligned grid, then old bins merge ``factor`` at a time (exactly)."""
        end = self.origin + self.bins * self.width
        if self.origin <= lo and hi < end:
            return
        width = self.width
        while True:
            width *= 2
            origin = math.floor(min(lo, self.origin) / width) * width
            if origin + self.bins * width > max(hi, end):
                break
        factor = round(width / self.width)
        shift = round((self.origin - origin) / self.width)  # old bins between the new and old origins
        merged = torch.zeros(self.bins, dtype=torch.float64)
        merged.index_add_(0, (torch.arange(self.bins) + shift) // factor, self.hist)
        self.hist, self.origin, self.width = merged, origin, width

    # ------------------------------------------------------------------ derived statistics

    def _check(self) -> None:
        if self.count == 0:
            raise ValueError("the observer saw no data: the layer never ran during calibration")

    @property
    def mean(self) -> float:
        self._check()
        return self.total / self.count

    @property
    def std(self) -> float:
        self._check()
        return math.sqrt(max(self.total_sq / self.count - self.mean**2, 0.0))

    def centers(self) -> torch.Tensor:
        return self.origin + (torch.arange(self.bins, dtype=torch.float64) + 0.5) * self.width

    def quantile(self, q: float) -> float:
        """The ``q`` quantile (linear within a bin), clamped to the observed min/max."""
        self._check()
        cdf = torch.cumsum(self.hist, 0) / self.count
        i = int(torch.searchsorted(cdf, torch.tensor(q, dtype=torch.float64)).clamp(max=self.bins - 1))
        before = float(cdf[i - 1]) if i else 0.0
        inside = float(self.hist[i]) / self.count
        frac = (q - before) / inside if inside > 0 else 0.0
        value = self.origin + (i + min(max(frac, 0.0), 1.0)) * self.width
        return min(max(value, self.min), self.max)

    def clip_mse(self, lo: float, hi: float, levels: int) -> torch.Tensor:
        """Expected squared error per value of quantizing to ``levels`` steps over ``[lo, hi]``.

        Broadcasts over tensors of candidate ``lo``/``hi``: rounding noise ``step^2 / 12`` for
        values inside, squared distance to the range for values outside (bin centres).
        """
        c = self.centers()
        lo_t = torch.as_tensor(lo, dtype=torch.float64).unsqueeze(-1)
        hi_t = torch.as_tensor(hi, dtype=torch.float64).unsqueeze(-1)
        step2 = ((hi_t - lo_t) / (levels - 1)).square() / 12
        outside = (lo_t - c).clamp_min(0).square() + (c - hi_t).clamp_min(0).square()
        inside = ((c >= lo_t) & (c <= hi_t)).to(torch.float64)
        return ((inside * step2 + outside) * self.hist).sum(-1) / self.count

    def range(
        self, method: RangeMethod = "minmax", *, levels: int = 256, percentile: float = 99.99, symmetric: bool = False
    ) -> tuple[float, float]:
        """The clipping range ``(lo, hi)`` by ``method`` (``symmetric``: ``(-a, a)``)."""
        self._check()
        if method not in RANGE_METHODS:
            raise ValueError(f"method must be one of {list(RANGE_METHODS)}, got {method!r}")
        if method == "minmax":
            if symmetric:
                a = max(abs(self.min), abs(self.max))
                return -a, a
            return self.min, self.max
        if method == "percentile":
            if not 50.0 < percentile <= 100.0:
                raise ValueError(f"percentile must be in (50, 100], got {percentile!r}")
            lo, hi = self.quantile(1 - percentile / 100), self.quantile(percentile / 100)
            if symmetric:
                a = max(abs(lo), abs(hi))
                return -a, a
            return lo, hi
        return self._mse_range(levels, symmetric)

    def _mse_range(self, levels: int, symmetric: bool) -> tuple[float, float]:
        """Grid search of the clipped range with the least expected squared error."""
        fractions = torch.linspace(0.2, 1.0, 81, dtype=torch.float64)
        lo_max, hi_max = min(self.min, 0.0), max(self.max, 0.0)
        if symmetric:
            a = fractions * max(-lo_max, hi_max)
            err = self.clip_mse(-a, a, levels)
            best = float(a[int(torch.argmin(err))])
            return -best, best
        lo_c = (fractions * lo_max).view(-1, 1).expand(-1, fractions.numel())
        hi_c = (fractions * hi_max).view(1, -1).expand(fractions.numel(), -1)
        err = self.clip_mse(lo_c, hi_c, levels)
        i, j = divmod(int(torch.argmin(err)), fractions.numel())
        return float(lo_c[i, j]), float(hi_c[i, j])
