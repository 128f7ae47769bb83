"""RLE of top-slice vector rows: exact round trip, filler entries, sizes."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from panacea.core.rle import RleRows, rle_decode, rle_encode, rle_index_entries, rle_row_entries


def encode_by_hand(stored: list[bool], b: int) -> list[int]:
    """The index stream of one row, written out sequentially."""
    filler, out, run = 2**b - 1, [], 0
    for s in stored:
        if not s:
            run += 1
            continue
        out += [filler] * (run // filler) + [run % filler]
        run = 0
    return out


def test_known_row_with_a_filler():
    # stored, 20 compressed, stored, 3 compressed (trailing: no entry) with b = 4 (filler = 15)
    stored = torch.tensor([True] + [False] * 20 + [True] + [False] * 3)
    vectors = torch.arange(25 * 2).view(25, 2)
    enc = rle_encode(vectors, stored, 4)
    assert enc.index.tolist() == [0, 15, 5]
    assert enc.data.tolist() == [[0, 1], [42, 43]]
    assert enc.size_bits() == 3 * 4 + 4 * 4
    mask, decoded = rle_decode(enc, fill=-1)
    assert torch.equal(mask[0], stored)
    assert torch.equal(decoded[0][stored], vectors[stored])
    assert (decoded[0][~stored] == -1).all()


@given(
    rows=st.integers(1, 6),
    length=st.integers(1, 80),
    v=st.integers(1, 5),
    b=st.integers(1, 8),
    density=st.floats(0, 1),
    seed=st.integers(0, 2**31),
)
def test_round_trip_and_sizes(rows, length, v, b, density, seed):
    gen = torch.Generator().manual_seed(seed)
    stored = torch.rand(rows, length, generator=gen) < density
    vectors = torch.randint(-8, 16, (rows, length, v), generator=gen, dtype=torch.int8)
    enc = rle_encode(vectors, stored, b)
    assert enc.index.tolist() == list(itertools.chain.from_iterable(encode_by_hand(r, b) for r in stored.tolist()))
    assert enc.row_entries.tolist() == [len(encode_by_hand(r, b)) for r in stored.tolist()]
    assert rle_index_entries(stored, b) == enc.index.numel()
    assert torch.equal(rle_row_entries(stored, b), enc.row_entries.to(rle_row_entries(stored, b).dtype))
    mask, decoded = rle_decode(enc, fill=99)
    assert torch.equal(mask, stored)
    assert torch.equal(decoded[stored], vectors[stored])
    assert (decoded[~stored] == 99).all()
    assert enc.size_bits() == enc.index.numel() * b + int(stored.sum()) * v * 4
    lanes = torch.randint(1, v + 1, (rows,), generator=gen)
    assert enc.size_bits(lanes=lanes) == enc.index.numel() * b + int((stored.sum(1) * lanes).sum()) * 4


def test_all_and_nothing_compressed():
    nothing = rle_encode(torch.ones((2, 5, 4)), torch.ones((2, 5), dtype=torch.bool), 4)
    assert nothing.index.tolist() == [0] * 10  # every vector stored, no run
    everything = rle_encode(torch.ones((2, 5, 4)), torch.zeros((2, 5), dtype=torch.bool), 4)
    assert everything.index.numel() == 0 and everything.size_bits() == 0
    mask, _ = rle_decode(everything)
    assert not mask.any()


def test_corrupt_stream_is_rejected():
    enc = rle_encode(torch.ones((1, 4, 1)), torch.tensor([[False, False, False, True]]), 2)
    too_far = RleRows(enc.index + 1, enc.data, enc.row_entries, enc.row_stored, enc.length, enc.index_bits)
    with pytest.raises(ValueError, match="corrupt"):
        rle_decode(too_far)
    missing = RleRows(enc.index, enc.data[:0], enc.row_entries, enc.row_stored, enc.length, enc.index_bits)
    with pytest.raises(ValueError, match="stored vectors"):
        rle_decode(missing)


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (
            lambda: rle_encode(torch.ones((3, 2)), torch.ones(3, dtype=torch.bool), 0),
            ValueError,
            "index_bits must be in [1, 16]",
        ),
        (lambda: rle_encode(torch.ones((3, 2)), torch.ones(3), 4), TypeError, "stored must be a bool tensor"),
        (lambda: rle_encode(torch.ones((4, 2)), torch.ones(3, dtype=torch.bool), 4), ValueError, "must have shape"),
        (lambda: rle_index_entries(torch.ones((2, 2), dtype=torch.bool), 17), ValueError, "index_bits"),
    ],
)
def test_rle_rejects_bad_input(call, error, fragment):
    with pytest.raises(error) as info:
        call()
    assert fragment in str(info.value)


@pytest.mark.parametrize("b", [1, 2, 3, 4, 5])
def test_entry_count_for_every_run_length_and_offset(b):
    """Pins the aligned-block shortcut: runs of F-1 .. 2F+1 at every offset, ended or trailing."""
    filler = 2**b - 1
    for length in range(1, 3 * filler + 4):
        for run in range(max(filler - 1, 0), min(2 * filler + 2, length) + 1):
            for start in range(0, length - run + 1):
                row = [True] * length
                row[start : start + run] = [False] * run
                stored = torch.tensor([row])
                assert rle_index_entries(stored, b) == len(encode_by_hand(row, b)), (b, length, run, start)
