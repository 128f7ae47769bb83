"""The counting rules (panacea.gemm.counts): both GEMMs' counts against a brute-force reference,
hand-computed counts, and the arithmetic of GemmCounts."""

from __future__ import annotations

import math
from dataclasses import fields, replace

import numpy as np
import torch
from conftest import AqsCase, SibiaCase, aqs_cases, sibia_cases
from hypothesis import given

import panacea
from panacea.core.slicing import act_slices, ho_shift, sbr_slices
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


# --------------------------------------------------------------------------- AQS-GEMM


@given(aqs_cases())
def test_aqs_counts_follow_the_rules(c: AqsCase):
    fast = panacea.aqs_gemm(c.x, c.w, c.zero_point, **c.kwargs).counts
    assert fast == aqs_reference(c)
    assert panacea.aqs_gemm(c.x, c.w, c.zero_point, **c.kwargs, path="slice").counts == fast


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
    assert torch.equal(res.output, x.long() @ w.long().T)
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


# --------------------------------------------------------------------------- Sibia


@given(sibia_cases())
def test_bitslice_counts_follow_the_rules(c: SibiaCase):
    s = panacea.bitslice_gemm(c.x, c.w, **c.kwargs).counts
    assert s == sibia_reference(c, s.skipped)
    assert s.act_bits == s.dense_act_bits and s.weight_bits == s.dense_weight_bits  # Sibia keeps operands dense
    assert s.compensation_adds == s.compensation_mults == 0


# --------------------------------------------------------------------------- GemmCounts


def _counts(seed: int, skipped: str) -> GemmCounts:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(90, 110, (9, 12), generator=gen)
    w = torch.randint(-20, 21, (5, 12), generator=gen)
    return replace(panacea.aqs_gemm(x, w, 100).counts, skipped=skipped)


def test_counts_add_field_by_field_and_mixed_where_skipped_differs():
    a, b = _counts(0, "both"), _counts(1, "both")
    total = a + b
    for f in fields(GemmCounts):
        if f.name != "skipped":
            assert getattr(total, f.name) == getattr(a, f.name) + getattr(b, f.name), f.name
    assert total.skipped == "both" and total.mults == a.mults + b.mults
    assert total.act_vector_sparsity == (a.act_vectors_compressed + b.act_vectors_compressed) / (
        a.act_vectors + b.act_vectors
    )
    assert (a + _counts(1, "weights")).skipped == "mixed"
    assert a.__add__(1) is NotImplemented


def test_counts_dict_holds_every_field_and_the_derived_ones():
    c = _counts(2, "both")
    d = c.to_dict()
    assert {f.name for f in fields(GemmCounts)} | {"act_vector_sparsity", "weight_vector_sparsity", "mults"} == set(d)
    assert d["mults"] == c.mults_hh + c.mults_hl + c.mults_lh + c.mults_ll
    assert d["act_vector_sparsity"] == c.act_vectors_compressed / c.act_vectors
    assert d["weight_vector_sparsity"] == c.weight_vectors_compressed / c.weight_vectors


def test_sparsity_of_an_operand_without_top_slice_vectors_is_zero():
    w4 = torch.ones((3, 8), dtype=torch.int8)  # 4-bit weights: one slice, no top-slice vectors
    c = panacea.aqs_gemm(torch.zeros((2, 8), dtype=torch.uint8), w4, 0, w_bits=4).counts
    assert c.weight_vectors == 0 and c.weight_vector_sparsity == 0.0
