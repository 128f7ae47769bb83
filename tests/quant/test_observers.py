"""Streaming activation statistics."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from panacea.quant.observers import ActivationObserver


@given(
    batches=st.lists(
        st.tuples(st.floats(-1e3, 1e3), st.floats(1e-3, 1e3), st.integers(1, 200)), min_size=1, max_size=6
    ),
    seed=st.integers(0, 2**31),
)
def test_streaming_histogram_equals_one_histogram_of_all_data(batches, seed):
    """Growing the histogram merges bins exactly: the result is the histogram of everything seen,
    on the final grid, bin for bin."""
    gen = torch.Generator().manual_seed(seed)
    obs = ActivationObserver(bins=64)
    seen = []
    for centre, spread, n in batches:
        x = centre + spread * torch.randn(n, generator=gen)
        obs.update(x)
        seen.append(x)
    data = torch.cat(seen)
    idx = ((data.double() - obs.origin) / obs.width).floor().long()
    assert idx.min() >= 0 and idx.max() < obs.bins  # everything fits the final grid
    assert torch.equal(obs.hist, torch.bincount(idx, minlength=obs.bins).double())
    assert obs.count == data.numel()
    assert (obs.min, obs.max) == (float(data.min()), float(data.max()))
    assert obs.mean == pytest.approx(float(data.double().mean()), rel=1e-6, abs=1e-6)
    assert obs.std == pytest.approx(float(data.double().std(unbiased=False)), rel=1e-4, abs=1e-4)


def test_ranges():
    gen = torch.Generator().manual_seed(0)
    obs = ActivationObserver()
    x = torch.randn(100_000, generator=gen)
    x[0] = 40.0  # one outlier
    obs.update(x)
    assert obs.range("minmax") == (float(x.min()), 40.0)
    lo, hi = obs.range("percentile", percentile=99.9)
    assert hi == pytest.approx(float(torch.quantile(x, 0.999)), abs=2 * obs.width)
    assert lo == pytest.approx(float(torch.quantile(x, 0.001)), abs=2 * obs.width)
    lo, hi = obs.range("mse", levels=256)
    assert hi < 40.0  # clipping the lone outlier costs less than coarser steps for everything else
    assert obs.clip_mse(lo, hi, 256) <= obs.clip_mse(float(x.min()), 40.0, 256)
    a, b = obs.range("minmax", symmetric=True)
    assert (a, b) == (-40.0, 40.0)


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda o: o.update(torch.tensor([1.0, math.nan])), ValueError, "NaN or Inf"),
        (lambda o: o.update(torch.tensor([math.inf])), ValueError, "NaN or Inf"),
        (lambda o: o.range(), ValueError, "saw no data"),
        (lambda o: (o.update(torch.ones(3)), o.range("max"))[1], ValueError, "method must be one of"),
        (lambda o: (o.update(torch.ones(3)), o.range("percentile", percentile=40))[1], ValueError, "percentile"),
    ],
)
def test_observer_rejects_bad_input(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call(ActivationObserver())
