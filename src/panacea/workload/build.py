"""Workloads from the integers of a GEMM, from sparsities, and at another RLE index width: the
builders that run the GEMMs' own counting kernels (:mod:`panacea.gemm`, :mod:`panacea.aq.storage`)
to fill the contract types of :mod:`panacea.workload.types`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import torch

from panacea.aq.codebook import Codebook
from panacea.aq.storage import stored_size
from panacea.core.checks import check_choice, check_fraction, check_int_range, check_option
from panacea.core.formats import ACT_BITS, WEIGHT_BITS, act_slice_count, compensates, weight_slice_count
from panacea.core.slicing import act_vector_stored, sibia_skip, weight_vector_stored
from panacea.gemm import GemmCounts, PackedWeights, aqs_counts, bitslice_counts
from panacea.gemm.counts import Shape, assemble
from panacea.gemm.masks import mask_census, operand_mask
from panacea.gemm.weights import as_packed
from panacea.workload.types import AQWorkload, Workload


def aq_workload(
    x_codes: torch.Tensor,
    x_cb: Codebook,
    w_codes: torch.Tensor,
    w_cb: Codebook,
    *,
    groups: int = 1,
    block: int = 64,
    run_bits: int = 4,
    name: str = "gemm",
) -> AQWorkload:
    """The :class:`AQWorkload` of codes ``x_codes [N, groups * K]`` and ``w_codes [M, groups * K]``."""
    xs, ws = (stored_size(c, cb.bits, block=block, run_bits=run_bits) for c, cb in ((x_codes, x_cb), (w_codes, w_cb)))
    return AQWorkload(
        name=name,
        n=x_codes.shape[0],
        k=x_codes.shape[1] // groups,
        m=w_codes.shape[0],
        groups=groups,
        x_bits=x_cb.bits,
        w_bits=w_cb.bits,
        x_steps=x_cb.steps,
        w_steps=w_cb.steps,
        x_nonzero=xs.nonzero,
        w_nonzero=ws.nonzero,
        x_entries=xs.entries,
        w_entries=ws.entries,
        block=block,
        run_bits=run_bits,
        x_row_bits=xs.row_bits,
        w_row_bits=ws.row_bits,
    )


def gemm_workload(
    x_q: torch.Tensor,
    w_q: torch.Tensor | PackedWeights,
    zero_point: int | None,
    *,
    w_bits: int = 7,
    x_bits: int | None = None,
    lo_bits: int = 4,
    vector: int = 4,
    index_bits: int = 4,
    groups: int = 1,
    name: str = "gemm",
) -> Workload:
    """The workload of one integer GEMM, with the counts of the GEMM itself: asymmetric
    (:func:`~panacea.gemm.aqs_counts`, ``x_bits`` default 8) when ``zero_point`` is given, else
    symmetric (:func:`~panacea.gemm.bitslice_counts`, ``x_bits`` default ``w_bits``). Arguments as
    :func:`~panacea.gemm.aqs_gemm` / :func:`~panacea.gemm.bitslice_gemm` take them; ``x_q[N, groups
    * K]``, ``w_q[M, groups * K]`` (or packed: its masks are shared, not computed again)."""
    w = as_packed(w_q, w_bits, vector, index_bits, bits_name="bits" if zero_point is None else "w_bits")
    if zero_point is None:
        x_bits = w_bits if x_bits is None else x_bits
        counts = bitslice_counts(x_q, w, x_bits=x_bits, groups=groups)
        act_stored = weight_vector_stored(x_q, x_bits, vector)
    else:
        x_bits = 8 if x_bits is None else x_bits
        counts = aqs_counts(x_q, w, zero_point, x_bits=x_bits, lo_bits=lo_bits, groups=groups)
        act_stored = act_vector_stored(x_q, zero_point, x_bits, lo_bits, vector)
    return Workload(
        name=name,
        scheme="sym" if zero_point is None else "asym",
        n=x_q.shape[0],
        k=x_q.shape[1] // groups,
        m=w.shape[0],
        groups=groups,
        x_bits=x_bits,
        w_bits=w_bits,
        lo_bits=4 if zero_point is None else lo_bits,
        zero_point=zero_point,
        vector=vector,
        index_bits=index_bits,
        act_stored=act_stored,
        weight_stored=w.mask.stored,
        counts=counts,
    )


def _random_mask(rows: int, k: int, vector: int, sparsity: float, g: torch.Generator) -> torch.Tensor:
    """``[ceil(rows / v), k]`` stored-vector mask with exactly ``round(sparsity * size)`` compressed."""
    shape = (math.ceil(rows / vector), k)
    size = shape[0] * shape[1]
    stored = torch.ones(size, dtype=torch.bool)
    stored[torch.randperm(size, generator=g)[: round(sparsity * size)]] = False
    return stored.view(shape)


def synthetic_workload(
    n: int,
    k: int,
    m: int,
    *,
    act_sparsity: float,
    weight_sparsity: float,
    scheme: Literal["asym", "sym"] = "asym",
    x_bits: int | None = None,
    w_bits: int = 7,
    lo_bits: int = 4,
    zero_point: int = 128,
    vector: int = 4,
    index_bits: int = 4,
    groups: int = 1,
    seed: int = 0,
    name: str = "synthetic",
) -> Workload:
    """A GEMM workload with random top-slice vector masks of the given vector sparsities (the
    fraction of compressed vectors, placed uniformly at random), for sweeps like the paper's Fig. 13.

    ``scheme="asym"``: Panacea's operands (``x_bits`` 8 or 12, default 8, with ``zero_point`` and
    ``lo_bits``); ``"sym"``: Sibia's (``x_bits`` 4/7/10, default ``w_bits``; the sparser operand is
    skipped). The counts are those the bit-slice GEMM would report for data with these masks.
    """
    for key, value in (("n", n), ("k", k), ("m", m), ("groups", groups)):
        check_int_range(key, value, 1, 1 << 40)
    act_sparsity = check_fraction("act_sparsity", act_sparsity, closed=True)
    weight_sparsity = check_fraction("weight_sparsity", weight_sparsity, closed=True)
    scheme = check_option("scheme", scheme, ("asym", "sym"))
    w_slices = weight_slice_count(w_bits)
    vector = check_int_range("vector", vector, 1, 64)
    gen = torch.Generator().manual_seed(seed)
    kk = groups * k
    w_stored = _random_mask(m, kk, vector, weight_sparsity, gen) if w_slices > 1 else torch.zeros((0, kk), dtype=bool)
    if scheme == "asym":
        x_bits = 8 if x_bits is None else check_choice("x_bits", x_bits, ACT_BITS)
        x_slices, compensate = act_slice_count(x_bits), compensates(zero_point, x_bits, lo_bits)
        check_int_range("zero_point", zero_point, 0, 2**x_bits - 1)
    else:
        x_bits = w_bits if x_bits is None else check_choice("x_bits", x_bits, WEIGHT_BITS)
        x_slices, compensate = weight_slice_count(x_bits), False
    x_stored = _random_mask(n, kk, vector, act_sparsity, gen) if x_slices > 1 else torch.zeros((0, kk), dtype=bool)
    counts = _counts(scheme, n, k, m, groups, x_bits, w_bits, compensate, vector, index_bits, x_stored, w_stored)
    return Workload(
        name=name,
        scheme=scheme,
        n=n,
        k=k,
        m=m,
        groups=groups,
        x_bits=x_bits,
        w_bits=w_bits,
        lo_bits=lo_bits if scheme == "asym" else 4,
        zero_point=zero_point if scheme == "asym" else None,
        vector=vector,
        index_bits=index_bits,
        act_stored=x_stored,
        weight_stored=w_stored,
        counts=counts,
    )


def _counts(
    scheme: Literal["asym", "sym"],
    n: int,
    k: int,
    m: int,
    groups: int,
    x_bits: int,
    w_bits: int,
    compensate: bool,
    vector: int,
    index_bits: int,
    x_stored: torch.Tensor,
    w_stored: torch.Tensor,
) -> GemmCounts:
    """The counts the bit-slice GEMM of ``scheme`` reports for operands with these top-slice
    vector masks (the GEMMs' own fast path: :func:`~panacea.gemm.masks.mask_census`)."""
    x_slices = act_slice_count(x_bits) if scheme == "asym" else weight_slice_count(x_bits)
    w_slices = weight_slice_count(w_bits)
    shape = Shape(
        n=n,
        m=m,
        k=groups * k,
        x_slices=x_slices,
        w_slices=w_slices,
        x_has_top=x_slices > 1,
        w_has_top=w_slices > 1,
        groups=groups,
    )
    skip = "both" if scheme == "asym" else sibia_skip(x_stored, w_stored)
    x_skip, w_skip = skip in ("both", "activations"), skip in ("both", "weights")
    census = mask_census(
        shape,
        operand_mask(x_stored, n, vector, index_bits, rle=x_skip),
        operand_mask(w_stored, m, vector, index_bits, rle=w_skip),
        x_skipped=x_skip,
        w_skipped=w_skip,
    )
    return assemble(shape, census, compensate=compensate, compressed_storage=scheme == "asym", skipped=skip)


def with_index_bits(w: Workload, index_bits: int) -> Workload:
    """``w`` stored with ``index_bits``-bit RLE indices: the same integers and masks (calibration
    does not depend on the index width), the counts and stored sizes of the new width. Equal to
    capturing again with ``index_bits`` (tests/workload/test_build.py)."""
    index_bits = check_int_range("index_bits", index_bits, 1, 16)
    compensate = w.scheme == "asym" and compensates(w.zero_point, w.x_bits, w.lo_bits)
    masks = (w.act_stored, w.weight_stored)
    counts = _counts(w.scheme, w.n, w.k, w.m, w.groups, w.x_bits, w.w_bits, compensate, w.vector, index_bits, *masks)
    return dataclasses.replace(w, index_bits=index_bits, counts=counts)
