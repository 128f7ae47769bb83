"""Raw and RLE block formats: exact round trip, the density detector's choice, stored bits."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from panacea.aq.storage import header_bits, load, rle_threshold, store, stored_size, zero_eliminate


def block_with(nonzero: int, length: int = 64, code: int = 5) -> torch.Tensor:
    row = torch.zeros(1, length, dtype=torch.uint8)
    row[0, torch.randperm(length, generator=torch.Generator().manual_seed(nonzero))[:nonzero]] = code
    return row


@pytest.mark.parametrize("bits, run_bits", [(4, 4), (8, 4), (2, 4), (1, 2)])
def test_the_detector_switches_format_at_its_density_threshold(bits, run_bits):
    # RLE iff nnz * (bits + run_bits) + header < 64 * bits
    limit = (64 * bits - header_bits(64)) / (bits + run_bits)
    below, above = int(limit - 1e-9) if limit != int(limit) else int(limit) - 1, int(limit) + 1
    assert rle_threshold(bits, run_bits, 64) == pytest.approx(limit / 64)
    for nnz, rle in ((0, True), (max(below, 0), below >= 0), (min(above, 64), False), (64, False)):
        s = store(block_with(nnz, code=1), bits, run_bits=run_bits)
        assert bool(s.rle[0, 0]) == (rle and nnz * (bits + run_bits) + header_bits(64) < 64 * bits), nnz


def test_known_densities_with_4_bit_codes():
    # 4-bit codes, 4-bit runs, blocks of 64: raw = 256 bits; RLE = 7 + 8 * nnz: RLE up to 31 nonzero
    assert [bool(store(block_with(n), 4).rle[0, 0]) for n in (0, 10, 31, 32, 48, 64)] == [
        True,
        True,
        True,
        False,
        False,
        False,
    ]
    assert store(block_with(31), 4).size_bits == 1 + 7 + 31 * 8  # flag + header + entries and codes
    assert store(block_with(32), 4).size_bits == 1 + 64 * 4


def test_long_zero_runs_take_fillers():
    row = torch.zeros(1, 64, dtype=torch.uint8)
    row[0, 40] = 3  # 40 zeros before it: two fillers (15 each) and index 10
    s = store(row, 4)
    assert s.runs.index.tolist() == [15, 15, 10] and s.size_bits == 1 + 7 + 3 * 4 + 4
    assert torch.equal(load(s), row)


@given(
    rows=st.integers(1, 5),
    length=st.integers(1, 300),
    bits=st.integers(1, 8),
    block=st.sampled_from([1, 7, 16, 64, 100]),
    run_bits=st.integers(1, 6),
    density=st.sampled_from([0.0, 0.02, 0.2, 0.5, 0.8, 1.0]),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=150, deadline=None)
def test_round_trip_is_exact_and_bits_are_counted(rows, length, bits, block, run_bits, density, seed):
    gen = torch.Generator().manual_seed(seed)
    codes = torch.randint(1, 2**bits, (rows, length), generator=gen)
    codes[torch.rand(rows, length, generator=gen) >= density] = 0
    codes = codes.to(torch.uint8)
    s = store(codes, bits, block=block, run_bits=run_bits)
    assert torch.equal(load(s), codes)
    positions, values = zero_eliminate(s)
    assert torch.equal(positions, codes.reshape(-1).nonzero().squeeze(1)) and torch.equal(values, codes[codes != 0])
    raw_blocks = int((~s.rle).sum())
    expected = s.rle.numel() + s.raw.numel() * bits + int(s.rle.sum()) * header_bits(block)
    expected += s.runs.index.numel() * run_bits + int((codes != 0).sum() - (s.raw != 0).sum()) * bits
    assert s.size_bits == expected and int(s.row_bits().sum()) == expected
    assert s.raw.numel() <= raw_blocks * block
    size = stored_size(codes, bits, block=block, run_bits=run_bits)
    assert size.bits == expected and torch.equal(size.row_bits, s.row_bits())
    assert size.entries == s.runs.index.numel() and size.nonzero == int((codes != 0).sum())


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"codes must hold 2-bit codes in \[0, 3\]"):
        store(torch.full((1, 4), 4, dtype=torch.uint8), 2)
    with pytest.raises(ValueError, match=r"bits must be in \[1, 8\]"):
        store(torch.zeros(1, 4, dtype=torch.uint8), 9)
    with pytest.raises(ValueError, match=r"block must be in"):
        store(torch.zeros(1, 4, dtype=torch.uint8), 4, block=0)
