"""AQS-GEMM and Sibia bit-slice GEMM: exactness of both paths and counts against a brute-force reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import AqsCase, SibiaCase, aqs_cases, sibia_cases
from hypothesis import given

import panacea
from panacea.core.slicing import act_slices, dbs_truncate, ho_shift, sbr_slices
from panacea.gemm import GemmCounts

# --------------------------------------------------------------------------- brute-force reference


def _stored(top: np.ndarray, v: int, compressed_value: int) -> np.ndarray:
    """Top-slice vectors that are not compressible, by looking at every real lane."""
    rows, k = top.shape
    out = np.zeros((math.ceil(rows / v), k), dtype=bool)
    for i in range(out.shape[0]):
        for kk in range(k):
            out[i, kk] = any(top[r, kk] != compressed_value for r in range(i * v, min(rows, (i + 1) * v)))
    return out


def _rle_entries(stored: np.ndarray, b: int) -> int:
    """Sequential RLE scan: one entry per stored vector plus one filler per 2^b - 1 skipped."""
    filler, entries = 2**b - 1, 0
    for row in stored:
        run = 0
        for s in row:
            if s:
                entries += run // filler + 1
                run = 0
            else:
                run += 1
    return entries


def _expand(stored: np.ndarray, rows: int, v: int) -> np.ndarray:
    """Vector-level mask -> per-element presence of the real lanes."""
    return np.repeat(stored, v, axis=0)[:rows]


def _triples(pw: np.ndarray, px: np.ndarray) -> int:
    """Number of (m, n, k) with both slices present: the 4b x 4b multiplications of one slice pair."""
    return int(np.einsum("mk,nk->", pw.astype(np.int64), px.astype(np.int64)))


def reference_counts(
    x_top: np.ndarray | None,
    x_low: int,
    w_top: np.ndarray | None,
    w_low: int,
    *,
    x_compressed: int,
    skip_x: bool,
    skip_w: bool,
    n: int,
    m: int,
    k: int,
    v: int,
    b: int,
    compensate: bool,
    compressed_storage: bool,
    skipped: str,
    groups: int = 1,
) -> GemmCounts:
    ones_n, ones_m = np.ones((n, k), bool), np.ones((m, k), bool)
    sx = _stored(x_top, v, x_compressed) if x_top is not None else np.zeros((0, k), bool)
    sw = _stored(w_top, v, 0) if w_top is not None else np.zeros((0, k), bool)
    px_top = _expand(sx, n, v) if skip_x else ones_n
    pw_top = _expand(sw, m, v) if skip_w else ones_m
    x_slices = [px_top] * (x_top is not None) + [ones_n] * x_low
    w_slices = [pw_top] * (w_top is not None) + [ones_m] * w_low
    pairs = {}
    for xi, px in enumerate(x_slices):
        for wi, pw in enumerate(w_slices):
            x_is_top = x_top is not None and xi == 0
            w_is_top = w_top is not None and wi == 0
            key = ("h" if w_is_top else "l") + ("h" if x_is_top else "l")
            pairs[key] = pairs.get(key, 0) + _triples(pw, px)
    mults = sum(pairs.values())
    comp_adds = 0
    if compensate:  # every loaded weight slice element, once per stored activation vector
        loaded_per_k = sum(pw.sum(axis=0) for pw in w_slices)
        comp_adds = int((sx.sum(axis=0) * loaded_per_k).sum())
    comp_mults = groups * m * n if compensate else 0  # one multiply by r per output
    dense_x, dense_w = 4 * len(x_slices) * n * k, 4 * len(w_slices) * m * k

    def top_bits(stored, presence, skipped_operand):
        if not skipped_operand or stored.size == 0:
            return 0, 0
        index = _rle_entries(stored, b) * b
        return index + 4 * int(presence.sum()), index

    x_top_bits, x_index = top_bits(sx, px_top, skip_x)
    w_top_bits, w_index = top_bits(sw, pw_top, skip_w)
    return GemmCounts(
        act_vectors=sx.size,
        act_vectors_compressed=int((~sx).sum()),
        weight_vectors=sw.size,
        weight_vectors_compressed=int((~sw).sum()),
        mults_hh=pairs.get("hh", 0),
        mults_hl=pairs.get("hl", 0),
        mults_lh=pairs.get("lh", 0),
        mults_ll=pairs.get("ll", 0),
        compensation_mults=comp_mults,
        compensation_adds=comp_adds,
        adds=mults + comp_adds + comp_mults,
        dense_mults=len(x_slices) * len(w_slices) * n * m * k,
        act_bits=x_top_bits + 4 * x_low * n * k if compressed_storage else dense_x,
        weight_bits=w_top_bits + 4 * w_low * m * k if compressed_storage else dense_w,
        act_index_bits=x_index,
        weight_index_bits=w_index,
        dense_act_bits=dense_x,
        dense_weight_bits=dense_w,
        skipped=skipped,
    )


def aqs_reference(c: AqsCase) -> GemmCounts:
    n, k = c.x.shape
    m = c.w.shape[0]
    xs = act_slices(c.x, c.x_bits, c.lo_bits).numpy()
    ws = sbr_slices(c.w, c.w_bits).numpy()
    r = c.zero_point >> ho_shift(c.x_bits, c.lo_bits)
    w_has_top = c.w_bits > 4
    return reference_counts(
        xs[0],
        xs.shape[0] - 1,
        ws[0] if w_has_top else None,
        ws.shape[0] - w_has_top,
        x_compressed=r,
        skip_x=True,
        skip_w=True,
        n=n,
        m=m,
        k=k,
        v=c.vector,
        b=c.index_bits,
        compensate=r != 0,
        compressed_storage=True,
        skipped="both",
        groups=c.groups,
    )


def dense(x: torch.Tensor, w: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """The reference product, group by group (column block g of x meets column block g of w)."""
    x, w = x.to(torch.int64), w.to(torch.int64)
    k = x.shape[1] // groups
    return torch.cat([x[:, g * k : (g + 1) * k] @ w[:, g * k : (g + 1) * k].T for g in range(groups)], dim=1)


# --------------------------------------------------------------------------- AQS-GEMM


@given(aqs_cases())
def test_aqs_gemm_both_paths_exact_and_counted(c: AqsCase):
    expected = dense(dbs_truncate(c.x.to(torch.int64), c.lo_bits, c.x_bits), c.w, c.groups)
    fast = panacea.aqs_gemm(c.x, c.w, c.zero_point, **c.kwargs)
    ref = panacea.aqs_gemm(c.x, c.w, c.zero_point, **c.kwargs, path="slice")
    packed = panacea.pack_weights(c.w, bits=c.w_bits, vector=c.vector, index_bits=c.index_bits)
    reused = panacea.aqs_gemm(c.x, packed, c.zero_point, x_bits=c.x_bits, lo_bits=c.lo_bits, groups=c.groups)
    assert fast.output.dtype == torch.int64
    assert torch.equal(fast.output, expected)
    assert torch.equal(ref.output, expected)
    assert torch.equal(reused.output, expected)
    assert fast.counts == ref.counts == reused.counts
    assert fast.counts == aqs_reference(c)
    counts = panacea.gemm.aqs_counts(c.x, packed, c.zero_point, x_bits=c.x_bits, lo_bits=c.lo_bits, groups=c.groups)
    assert counts == fast.counts  # counts without the product


@given(aqs_cases())
def test_aqs_gemm_extreme_sparsity(c: AqsCase):
    counts = panacea.aqs_gemm(c.x, c.w, c.zero_point, **c.kwargs).counts
    assert counts.mults <= counts.dense_mults
    w_has_top = c.w_bits > 4
    if c.mode == "all_compressed":
        assert counts.act_vector_sparsity == 1.0
        assert counts.weight_vector_sparsity == (1.0 if w_has_top else 0.0)
        assert counts.mults_hh == counts.mults_hl == counts.mults_lh == 0
        assert counts.compensation_adds == 0
    if c.mode == "none_compressed":
        assert counts.act_vector_sparsity == 0.0
        assert counts.weight_vector_sparsity == 0.0
        assert counts.mults == counts.dense_mults
        assert counts.act_bits >= counts.dense_act_bits  # RLE only adds index bits


def test_aqs_gemm_pins_hand_computed_counts():
    # v = 2, two tokens in one vector; zero point 0x35 -> r = 3 (type 1).
    x = torch.tensor([[0x31, 0x3F, 0x52], [0x30, 0x30, 0x31]], dtype=torch.uint8)
    w = torch.tensor([[1, 9, -2], [0, -3, 63], [7, 0, -8]], dtype=torch.int8)
    res = panacea.aqs_gemm(x, w, 0x35, vector=2, index_bits=2)
    assert torch.equal(res.output, dense(x, w))
    c = res.counts
    # activation top vectors: k=0 and k=1 compressed (both HO = 3), k=2 stored (HO 5 and 3)
    assert (c.act_vectors, c.act_vectors_compressed) == (3, 2)
    # weight vectors: rows {0,1} and {2}; stored where a top slice is nonzero: (0,1)->9, (0,2)->63
    assert (c.weight_vectors, c.weight_vectors_compressed) == (6, 4)
    # HH: at k=1 weights 2 lanes x activations 0 lanes, at k=2 2 x 2 -> 4
    assert c.mults_hh == 4
    assert c.mults_hl == 1 * 2 * (2 + 2)  # one low activation slice x N=2 x stored weight lanes
    assert c.mults_lh == 1 * 3 * 2  # one low weight slice x M=3 x stored activation lanes (k=2)
    assert c.mults_ll == 2 * 3 * 3
    assert c.dense_mults == 4 * 2 * 3 * 3
    # compensator: one stored activation vector (k=2) x loaded weight slices there (2 top + 3 low)
    assert c.compensation_adds == 5
    assert c.compensation_mults == 2 * 3
    # act bits: 1 entry (index 2 -> run of 2 = 2 // 3 fillers + 1) x 2 bits + 2 slices x 4 + LO 6 x 4
    assert c.act_bits == 2 + 8 + 24
    # weight rows: row 0 stored at k=1 (run 1), k=2 (run 0) -> 2 entries; row 1 none
    assert c.weight_index_bits == 2 * 2
    assert c.weight_bits == 4 + 4 * 4 + 4 * 9


def test_aqs_gemm_compensation_is_what_makes_it_exact():
    """Without eq. (6) the skipped r-valued vectors would be lost: the error is r W 1_C exactly."""
    gen = torch.Generator().manual_seed(0)
    x = (120 + torch.randint(-6, 7, (64, 96), generator=gen)).to(torch.uint8)
    w = torch.randint(-63, 64, (32, 96), generator=gen).to(torch.int8)
    res = panacea.aqs_gemm(x, w, 120, path="slice")
    assert torch.equal(res.output, dense(x, w))
    assert res.counts.act_vector_sparsity > 0.5
    assert res.counts.compensation_mults == 64 * 32


def test_symmetric_zero_point_on_panacea():
    """Symmetric activations on the same hardware: zero point 2^(b-1), r = 8 (paper IV, Fig. 18)."""
    x = torch.full((8, 16), 128, dtype=torch.uint8)
    w = torch.ones((4, 16), dtype=torch.int8)
    c = panacea.aqs_gemm(x, w, 128).counts
    assert c.act_vector_sparsity == 1.0
    assert torch.equal(panacea.aqs_gemm(x, w, 128).output, dense(x, w))


# --------------------------------------------------------------------------- Sibia


def sibia_reference(c: SibiaCase, skipped: str) -> GemmCounts:
    n, k = c.x.shape
    m = c.w.shape[0]
    xs, ws = sbr_slices(c.x, c.x_bits).numpy(), sbr_slices(c.w, c.bits).numpy()
    x_top, w_top = c.x_bits > 4, c.bits > 4
    return reference_counts(
        xs[0] if x_top else None,
        xs.shape[0] - x_top,
        ws[0] if w_top else None,
        ws.shape[0] - w_top,
        x_compressed=0,
        skip_x=skipped == "activations",
        skip_w=skipped == "weights",
        n=n,
        m=m,
        k=k,
        v=c.vector,
        b=c.index_bits,
        compensate=False,
        compressed_storage=False,
        skipped=skipped,
        groups=c.groups,
    )


@given(sibia_cases())
def test_bitslice_gemm_both_paths_exact_and_counted(c: SibiaCase):
    expected = dense(c.x, c.w, c.groups)
    fast = panacea.bitslice_gemm(c.x, c.w, **c.kwargs)
    ref = panacea.bitslice_gemm(c.x, c.w, **c.kwargs, path="slice")
    packed = panacea.pack_weights(c.w, bits=c.bits, vector=c.vector, index_bits=c.index_bits)
    reused = panacea.bitslice_gemm(c.x, packed, x_bits=c.x_bits, groups=c.groups, path="slice")
    assert torch.equal(fast.output, expected)
    assert torch.equal(ref.output, expected)
    assert torch.equal(reused.output, expected)
    assert fast.counts == ref.counts == reused.counts
    assert panacea.gemm.bitslice_counts(c.x, packed, x_bits=c.x_bits, groups=c.groups) == fast.counts  # no product
    s = fast.counts
    x_top, w_top = c.x_bits > 4, c.bits > 4
    if not (x_top or w_top):
        assert s.skipped == "none"
    elif x_top != w_top:
        assert s.skipped == ("activations" if x_top else "weights")
    else:
        assert s.skipped == ("activations" if s.act_vector_sparsity >= s.weight_vector_sparsity else "weights")
    assert s == sibia_reference(c, s.skipped)
    assert s.act_bits == s.dense_act_bits  # Sibia keeps operands uncompressed


def test_aqs_skips_r_valued_vectors_and_zpm_centres_them():
    """The paper's motivation (Fig. 5, Fig. 8, Fig. 18b) on one set of integers around z = 100."""
    gen = torch.Generator().manual_seed(1)
    noise = torch.randint(-7, 8, (256, 128), generator=gen)
    w = torch.randint(-6, 7, (64, 128), generator=gen).to(torch.int8)
    z = 100  # HO bin 6 is [96, 111]: values 93..99 spill into bin 5
    z_zpm = panacea.quant.zpm_zero_point(z)
    assert z_zpm == 6 * 16 + 8  # ZPM: middle of the HO bin, r unchanged
    x = (z + noise).to(torch.uint8)
    x_zpm = (z_zpm + noise).to(torch.uint8)  # quantizing with z' shifts every value by z' - z
    zero_only = panacea.aqs_gemm(x, w, 0).counts  # r = 0: only zero HO slices compress
    aqs = panacea.aqs_gemm(x, w, z).counts
    zpm = panacea.aqs_gemm(x_zpm, w, z_zpm).counts
    assert zero_only.act_vector_sparsity == 0.0
    assert 0.0 < aqs.act_vector_sparsity < zpm.act_vector_sparsity == 1.0
    assert zpm.mults < aqs.mults < zero_only.mults


# --------------------------------------------------------------------------- bad input


X = torch.zeros((4, 8), dtype=torch.uint8)
W = torch.zeros((3, 8), dtype=torch.int8)


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        (dict(x_q=X.float()), TypeError, "x_q must have an integer dtype"),
        (dict(w_q=W.double()), TypeError, "w_q must have an integer dtype"),
        (dict(x_q=[[1, 2]]), TypeError, "x_q must be a torch.Tensor"),
        (dict(x_q=X[0]), ValueError, "x_q must be a 2-D tensor"),
        (dict(x_q=X[:0]), ValueError, "every dimension >= 1"),
        (dict(w_q=torch.zeros((3, 7), dtype=torch.int8)), ValueError, "must share K"),
        (dict(x_q=X.to(torch.int16) + 300), ValueError, "x_q must hold unsigned 8-bit activations in [0, 255]"),
        (dict(x_q=X.to(torch.int16) - 1), ValueError, "found values in [-1, -1]"),
        (dict(w_q=W - 64), ValueError, "w_q must hold narrow-range signed 7-bit weights in [-63, 63]"),
        (dict(w_q=W + 8, w_bits=4), ValueError, "[-7, 7]"),
        (dict(zero_point=256), ValueError, "zero_point must be in [0, 255]"),
        (dict(zero_point=-1), ValueError, "zero_point must be in [0, 255]"),
        (dict(zero_point=1.5), TypeError, "zero_point must be an integer"),
        (dict(zero_point=True), TypeError, "zero_point must be an integer"),
        (dict(w_bits=8), ValueError, "w_bits must be one of [4, 7, 10]"),
        (dict(x_bits=16), ValueError, "x_bits must be one of [8, 12]"),
        (dict(lo_bits=7), ValueError, "lo_bits must be one of [4, 5, 6]"),
        (dict(vector=0), ValueError, "vector must be in [1, 64]"),
        (dict(index_bits=17), ValueError, "index_bits must be in [1, 16]"),
        (dict(path="dense"), ValueError, "path must be one of ['fast', 'slice']"),
    ],
)
def test_aqs_gemm_rejects_bad_input(kwargs, error, fragment):
    args = dict(x_q=X, w_q=W, zero_point=0) | kwargs
    with pytest.raises(error) as info:
        panacea.aqs_gemm(args.pop("x_q"), args.pop("w_q"), args.pop("zero_point"), **args)
    assert fragment in str(info.value)


def test_packed_weights_carry_their_settings_and_reject_conflicts():
    w = torch.randint(-511, 512, (6, 10), dtype=torch.int16)
    packed = panacea.pack_weights(w, bits=10, vector=2, index_bits=3)
    x = torch.randint(0, 256, (5, 10), dtype=torch.uint8)
    res = panacea.aqs_gemm(x, packed, 17)  # no settings repeated: the packed ones apply
    assert res.counts == panacea.aqs_gemm(x, w, 17, w_bits=10, vector=2, index_bits=3).counts
    assert torch.equal(packed.row_sums, w.long().sum(1))
    assert panacea.aqs_gemm(x, packed, 17, w_bits=10, vector=2).counts == res.counts  # matching: fine
    for kwargs, fragment in (
        (dict(w_bits=7), "w_bits=7 was given but w_q was packed with 10"),
        (dict(vector=4), "vector=4 was given but w_q was packed with 2"),
        (dict(index_bits=4), "index_bits=4 was given but w_q was packed with 3"),
    ):
        with pytest.raises(ValueError, match=fragment):
            panacea.aqs_gemm(x, packed, 17, **kwargs)
    with pytest.raises(ValueError, match="bits=7 was given"):
        panacea.bitslice_gemm(x.to(torch.int16) - 128, packed, bits=7)
    with pytest.raises(ValueError, match="must share K"):
        panacea.aqs_gemm(x[:, :9], packed, 17)
    with pytest.raises(ValueError, match=r"bits must be one of \[4, 7, 10\]"):
        panacea.pack_weights(w, bits=9)


def test_aqs_gemm_accepts_numpy_and_zero_dim_tensor_zero_point():
    x = np.full((2, 3), 7, dtype=np.uint8)
    w = np.ones((2, 3), dtype=np.int8)
    res = panacea.aqs_gemm(x, w, torch.tensor(7))
    assert res.output.tolist() == [[21, 21], [21, 21]]


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        (dict(x_q=torch.full((2, 8), 64, dtype=torch.int8)), ValueError, "signed 7-bit activations in [-63, 63]"),
        (dict(bits=8), ValueError, "bits must be one of [4, 7, 10]"),
        (dict(x_q=torch.zeros((2, 8), dtype=torch.bool)), TypeError, "x_q must have an integer dtype"),
    ],
)
def test_bitslice_gemm_rejects_bad_input(kwargs, error, fragment):
    args = dict(x_q=torch.zeros((2, 8), dtype=torch.int8), w_q=W) | kwargs
    with pytest.raises(error) as info:
        panacea.bitslice_gemm(args.pop("x_q"), args.pop("w_q"), **args)
    assert fragment in str(info.value)
