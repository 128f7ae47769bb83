"""Codebooks (LUTs per tensor): constructors, conventions, bad input, encode/decode, bit-serial digits."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from panacea.aq import codebook as cb
from panacea.aq.codebook import Codebook


@pytest.mark.parametrize(
    "kind, bits", [(k, b) for k in ("uniform", "nf", "kmeans", "pow2") for b in range(1, 9) if k != "pow2" or b <= 4]
)
def test_every_kind_keeps_the_conventions(kind, bits):
    samples = torch.randn(20000, generator=torch.Generator().manual_seed(bits)) * 40
    book = cb.make(kind, bits, samples)
    lv = book.levels
    assert book.bits == bits and lv.numel() == 2**bits and book.kind == kind
    assert int(lv[0]) == 0 and torch.unique(lv).numel() == lv.numel()
    assert torch.all(lv[2:] > lv[1:-1])  # the nonzero levels ascend
    assert int(lv.min()) >= cb.LEVEL_MIN and int(lv.max()) <= cb.LEVEL_MAX


@pytest.mark.parametrize("bits, steps", [(1, 1), (2, 1), (3, 2), (4, 3), (8, 7)])
def test_uniform_steps_are_the_bits_of_the_largest_magnitude(bits, steps):
    assert cb.uniform(bits).steps == steps
    assert cb.uniform(bits).levels.tolist()[:2] == [0, -128]  # two's complement, scaled to the grid


def test_pow2_levels_take_one_step():
    assert cb.pow2(4).levels.tolist() == [0, -128, -64, -32, -16, -8, -4, -2, -1, 1, 2, 4, 8, 16, 32, 64]
    assert all(cb.pow2(b).steps == 1 for b in range(1, 5))


def test_nf4_is_symmetric_around_zero_with_one_more_positive_level():
    lv = cb.normal_float(4).levels
    assert int((lv > 0).sum()) == 8 and int((lv < 0).sum()) == 7 and int(lv.max()) == 127


def test_kmeans_fits_its_data_better_than_the_uniform_grid():
    x = torch.randn(50000, generator=torch.Generator().manual_seed(0)) * 25
    err = {
        k: float((cb.decode(cb.encode(x, book), book) - x).pow(2).mean())
        for k, book in (("kmeans", cb.kmeans(x, 4)), ("uniform", cb.uniform(4)))
    }
    assert err["kmeans"] < 0.5 * err["uniform"]


@given(bits=st.integers(1, 8), seed=st.integers(0, 2**16))
@settings(max_examples=60, deadline=None)
def test_encode_picks_the_nearest_level_and_decode_inverts_it(bits, seed):
    gen = torch.Generator().manual_seed(seed)
    book = cb.kmeans(torch.randn(4000, generator=gen) * 30, bits)
    x = (torch.rand(500, generator=gen) - 0.5) * 300
    codes = cb.encode(x, book)
    got = cb.decode(codes, book).to(torch.float32)
    best = (x[:, None] - book.levels.to(torch.float32)[None]).abs().min(1).values
    assert torch.equal((got - x).abs(), best)
    assert torch.equal(cb.encode(cb.decode(codes, book).to(torch.float32), book), codes)  # levels map to themselves


@given(data=st.data(), bits=st.integers(1, 8))
@settings(max_examples=60, deadline=None)
def test_encode_equals_a_search_of_the_midpoints_ties_included(data, bits):
    """The table encoder against a binary search of the midpoints (ties go to the lower level):
    values at every midpoint, next to them, at the levels and far outside."""
    size = 2**bits - 1
    nonzero = data.draw(st.lists(st.integers(-128, 127).filter(bool), min_size=size, max_size=size, unique=True))
    book = Codebook(torch.tensor([0, *nonzero]))
    levels, order = torch.sort(book.levels.to(torch.float32))
    mids = (levels[1:] + levels[:-1]) / 2
    near = torch.cat([mids, torch.nextafter(mids, mids + 1), torch.nextafter(mids, mids - 1)])
    x = torch.cat([near, levels, torch.tensor([-1e9, -300.0, 300.0, 1e9, -0.0])])
    assert torch.equal(cb.encode(x, book), order[torch.bucketize(x, mids)].to(torch.uint8))


@given(data=st.data(), bits=st.integers(1, 8))
@settings(max_examples=60, deadline=None)
def test_the_digit_lut_sums_to_each_level_with_steps_powers_of_two(data, bits):
    size = 2**bits - 1
    nonzero = data.draw(st.lists(st.integers(-128, 127).filter(bool), min_size=size, max_size=size, unique=True))
    book = Codebook(torch.tensor([0, *nonzero]))
    d = cb.digits(book).to(torch.int32)
    assert d.shape == (2**bits, book.steps)
    assert torch.equal(d.sum(1), book.levels.to(torch.int32))
    mags = d.abs()
    assert torch.all((mags == 0) | ((mags & (mags - 1)) == 0))  # each term is 0 or a signed power of two


@pytest.mark.parametrize(
    "levels, message",
    [
        (torch.tensor([0, 1, 2]), "2\\^bits entries"),
        (torch.tensor([0]), "2\\^bits entries"),
        (torch.zeros(512, dtype=torch.int16), "2\\^bits entries"),
        (torch.tensor([3, 1]), "levels\\[0\\] must be 0"),
        (torch.tensor([0, 1, 1, 2]), "distinct"),
        (torch.tensor([0, 200]), "must lie in \\[-128, 127\\]"),
    ],
)
def test_bad_codebooks_are_refused(levels, message):
    with pytest.raises(ValueError, match=message):
        Codebook(levels)


def test_float_levels_are_refused():
    with pytest.raises(TypeError, match="integer tensor"):
        Codebook(torch.tensor([0.0, 1.0]))


@pytest.mark.parametrize("bits", [0, 9, -1])
@pytest.mark.parametrize("kind", ["uniform", "nf", "pow2", "kmeans"])
def test_precision_out_of_1_to_8_is_refused(kind, bits):
    with pytest.raises(ValueError, match=r"bits must be in \[1, 8\]"):
        cb.make(kind, bits, torch.randn(100))


def test_pow2_wider_than_4_bits_and_kmeans_without_samples_are_refused():
    with pytest.raises(ValueError, match=r"1\.\.4"):
        cb.pow2(5)
    with pytest.raises(ValueError, match="needs samples"):
        cb.make("kmeans", 4)
    with pytest.raises(ValueError, match="kind must be one of"):
        cb.make("lloyd", 4)
    with pytest.raises(ValueError, match="finite"):
        cb.kmeans(torch.tensor([1.0, float("nan")]), 2)
