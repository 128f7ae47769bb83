"""A GEMM of a real model run, in the terms the accelerator cost models consume.

This module is the meeting point of the model side (capture) and the hardware side (cost models):
it depends on neither.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import types
import typing
from dataclasses import dataclass
from typing import Literal

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from safetensors.torch import save_file

from panacea.aq.arith import serial_operand
from panacea.aq.codebook import Codebook
from panacea.aq.storage import stored_size
from panacea.core.checks import check_choice, check_fraction, check_int_range, check_option, input_error, shown
from panacea.core.files import atomic_write
from panacea.core.formats import (
    ACT_BITS,
    LO_BITS,
    WEIGHT_BITS,
    act_slice_count,
    compensates,
    weight_slice_count,
)
from panacea.core.slicing import act_vector_stored, sibia_skip, weight_vector_stored
from panacea.gemm import GemmCounts, PackedWeights, aqs_counts, bitslice_counts
from panacea.gemm.counts import Shape, assemble
from panacea.gemm.masks import mask_census, operand_mask
from panacea.gemm.weights import as_packed


@dataclass(frozen=True)
class Workload:
    """One call of one GEMM: ``groups`` GEMMs ``[n, k] x [m, k]^T`` (stacked along K), their
    number formats, the real top-slice vector masks of both operands and the GEMM's counts.

    ``scheme``: ``"asym"`` (Panacea: unsigned ``x_bits`` activations with ``zero_point`` and DBS
    ``lo_bits``) or ``"sym"`` (Sibia: signed ``x_bits``-bit SBR activations, ``zero_point`` None).
    ``act_stored``: bool ``[ceil(n / vector), groups * k]``, ``True`` where the activation
    top-slice vector is not compressible; ``weight_stored``: bool ``[ceil(m / vector), groups * k]``
    (no rows for 4-bit weights, which have no high-order slice).
    """

    name: str
    scheme: Literal["asym", "sym"]
    n: int
    k: int
    m: int
    groups: int
    x_bits: int
    w_bits: int
    lo_bits: int
    zero_point: int | None
    vector: int
    index_bits: int
    act_stored: torch.Tensor
    weight_stored: torch.Tensor
    counts: GemmCounts

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the GEMM (element products, not slice products)."""
        return self.groups * self.n * self.m * self.k


@dataclass(frozen=True)
class AQWorkload:
    """One call of one GEMM quantized arbitrarily (the JSSC 2024 arbitrary-quantization
    accelerator): ``groups`` GEMMs ``[n, k] x [m, k]^T`` of ``x_bits`` / ``w_bits`` codes, in the
    terms the bit-serial engine's cost depends on.

    ``x_steps`` / ``w_steps``: bit-serial steps of each codebook (the operand with fewer is serial);
    ``x_nonzero`` / ``w_nonzero``: nonzero codes (zero-elimination skips the rest);
    ``x_row_bits`` int64 ``[n]`` / ``w_row_bits`` int64 ``[m]``: stored bits of each row of the
    ``[n, groups * k]`` / ``[m, groups * k]`` code matrices in the formats the density detector
    picked per ``block``; ``x_entries`` / ``w_entries``: their RLE index entries (what the
    zero-eliminator decodes).
    """

    name: str
    n: int
    k: int
    m: int
    groups: int
    x_bits: int
    w_bits: int
    x_steps: int
    w_steps: int
    x_nonzero: int
    w_nonzero: int
    x_entries: int
    w_entries: int
    block: int
    run_bits: int
    x_row_bits: torch.Tensor
    w_row_bits: torch.Tensor

    @property
    def macs(self) -> int:
        return self.groups * self.n * self.m * self.k

    @property
    def serial(self) -> Literal["weights", "activations"]:
        """The operand fed bit by bit: the one with fewer steps (weights on a tie)."""
        return serial_operand(self.x_steps, self.w_steps)


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
    capturing again with ``index_bits`` (tests/test_workload.py)."""
    index_bits = check_int_range("index_bits", index_bits, 1, 16)
    compensate = w.scheme == "asym" and compensates(w.zero_point, w.x_bits, w.lo_bits)
    masks = (w.act_stored, w.weight_stored)
    counts = _counts(w.scheme, w.n, w.k, w.m, w.groups, w.x_bits, w.w_bits, compensate, w.vector, index_bits, *masks)
    return dataclasses.replace(w, index_bits=index_bits, counts=counts)


_TENSORS = {Workload: ("act_stored", "weight_stored"), AQWorkload: ("x_row_bits", "w_row_bits")}
_MAX_DIM = 1 << 24  # tokens, channels, or groups x K of one stored workload
_TYPES = {cls.__name__: cls for cls in _TENSORS}


def _workload_tensors(
    groups: dict[str, list[Workload | AQWorkload]], meta: dict | None
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The safetensors tensors and metadata of :func:`workloads_to_bytes` / :func:`save_workloads`:
    the tensor fields as tensors, every other field (counts included) as JSON in the header."""
    tensors, records, seen = {}, {}, set()
    for group, workloads in groups.items():
        records[group] = []
        for i, w in enumerate(workloads):
            names = _TENSORS[type(w)]
            fields = {f.name: getattr(w, f.name) for f in dataclasses.fields(w) if f.name not in names}
            if isinstance(w, Workload):
                fields["counts"] = dataclasses.asdict(w.counts)
            records[group].append({"type": type(w).__name__, **fields})
            for name in names:  # an empty mask (4-bit weights) is stored with its shape, as a tensor
                t = getattr(w, name).contiguous()
                # safetensors refuses shared storage: a mask two workloads share (a layer's weight
                # mask in its Fig. 18 variant) is written twice
                tensors[f"{group}/{i}/{name}"] = t.clone() if t.data_ptr() in seen and t.numel() else t
                seen.add(t.data_ptr())
    return tensors, {"workloads": json.dumps(records), "meta": json.dumps(meta or {})}


def workloads_to_bytes(groups: dict[str, list[Workload | AQWorkload]], meta: dict | None = None) -> bytes:
    """Named lists of workloads (and JSON-able ``meta``) as one safetensors blob.
    :func:`workloads_from_bytes` inverts it exactly."""
    return save_tensors(*_workload_tensors(groups, meta))


def save_workloads(
    path: str | os.PathLike, groups: dict[str, list[Workload | AQWorkload]], meta: dict | None = None
) -> None:
    """:func:`workloads_to_bytes` written to ``path`` atomically, streamed: a paper-sized model's
    masks (a GB and more) are never held twice in memory."""
    tensors, metadata = _workload_tensors(groups, meta)
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def _matches(value: object, hint: object) -> bool:
    """Whether a JSON value has the type ``hint`` of a workload field (counts are >= 0)."""
    if typing.get_origin(hint) is Literal:
        return value in typing.get_args(hint)
    if isinstance(hint, types.UnionType):
        return any(_matches(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return isinstance(value, hint)


def _record(cls: type, fields: object, where: str, skip: tuple[str, ...] = ()) -> dict:
    """``fields`` checked against the dataclass ``cls``: every field present, none unknown, each
    of its type; ``ValueError`` naming the field otherwise."""
    if not isinstance(fields, dict):
        raise input_error(None, f"expected an object, got {type(fields).__name__}", field=where)
    hints = typing.get_type_hints(cls)
    expected = [f.name for f in dataclasses.fields(cls) if f.name not in skip]
    for name in fields:
        if name not in expected:
            raise input_error(None, "unknown field", field=f"{where}.{name}")
    for name in expected:
        if name not in fields:
            raise input_error(None, "missing", field=f"{where}.{name}")
        if hints[name] is GemmCounts:
            fields = {**fields, name: GemmCounts(**_record(GemmCounts, fields[name], f"{where}.{name}"))}
        elif not _matches(fields[name], hints[name]):
            raise input_error(None, f"expected {hints[name]}", field=f"{where}.{name}", got=fields[name])
    return fields


def _tensor(tensors: dict[str, torch.Tensor], key: str, dtype: torch.dtype, shape: tuple[int, ...], where: str):
    t = tensors.get(key)
    if t is None:
        raise input_error(None, f"its tensor {shown(key)} is missing", field=where)
    if t.dtype != dtype or tuple(t.shape) != shape:
        raise input_error(
            None,
            f"tensor {shown(key)} must be {dtype} of shape {shape} (from its n, k, m, groups, vector, "
            f"x_bits and w_bits), got {t.dtype} {tuple(t.shape)}",
            field=where,
        )
    return t


def _workload(fields: object, tensors: dict[str, torch.Tensor], prefix: str) -> Workload | AQWorkload:
    """One workload record and its tensors, checked as :func:`workloads_from_bytes` says."""
    where = f"workloads.{prefix.replace('/', '.')}"
    kind = fields.get("type") if isinstance(fields, dict) else None
    if not isinstance(kind, str) or kind not in _TYPES:
        raise input_error(None, f"must be one of {sorted(_TYPES)}", field=f"{where}.type", got=kind)
    cls = _TYPES[kind]
    fields = _record(cls, {k: v for k, v in fields.items() if k != "type"}, where, _TENSORS[cls])
    for key in ("n", "k", "m", "groups"):
        if not 1 <= fields[key] <= _MAX_DIM:
            raise input_error(None, "must be in [1, 2^24]", field=f"{where}.{key}", got=fields[key])
    kk = fields["groups"] * fields["k"]
    if kk > _MAX_DIM:  # costing allocates along it; no layer of a real model comes near
        raise input_error(None, f"groups x k = {kk} exceeds 2^24", field=f"{where}.groups")
    if cls is Workload:
        asym, v = fields["scheme"] == "asym", fields["vector"]
        checks = [
            ("x_bits", fields["x_bits"] in (ACT_BITS if asym else WEIGHT_BITS)),
            ("w_bits", fields["w_bits"] in WEIGHT_BITS),
            ("lo_bits", fields["lo_bits"] in LO_BITS),
            ("vector", 1 <= v <= 64),
            ("index_bits", 1 <= fields["index_bits"] <= 16),
            ("zero_point", (fields["zero_point"] is None) != asym),
        ]
        for key, ok in checks:
            if not ok:
                problem = f"{shown(fields[key])} is not allowed with scheme {shown(fields['scheme'])}"
                raise input_error(None, problem, field=f"{where}.{key}")
        if asym and fields["zero_point"] > 2 ** fields["x_bits"] - 1:
            problem = f"{fields['zero_point']} exceeds {fields['x_bits']}-bit activations"
            raise input_error(None, problem, field=f"{where}.zero_point")
        x_slices = (act_slice_count if asym else weight_slice_count)(fields["x_bits"])
        x_rows = math.ceil(fields["n"] / v) if x_slices > 1 else 0
        w_rows = math.ceil(fields["m"] / v) if weight_slice_count(fields["w_bits"]) > 1 else 0
        specs = {"act_stored": (torch.bool, (x_rows, kk)), "weight_stored": (torch.bool, (w_rows, kk))}
    else:
        ranges = {"x_bits": 8, "w_bits": 8, "x_steps": 8, "w_steps": 8, "block": 1 << 20, "run_bits": 16}
        for key, hi in ranges.items():
            if not 1 <= fields[key] <= hi:
                raise input_error(None, f"must be in [1, {hi}]", field=f"{where}.{key}", got=fields[key])
        specs = {"x_row_bits": (torch.int64, (fields["n"],)), "w_row_bits": (torch.int64, (fields["m"],))}
    loaded = {name: _tensor(tensors, f"{prefix}/{name}", *spec, where) for name, spec in specs.items()}
    return cls(**fields, **loaded)


def workloads_from_bytes(blob: bytes) -> tuple[dict[str, list[Workload | AQWorkload]], dict]:
    """The groups and ``meta`` written by :func:`workloads_to_bytes`.

    Everything is checked before use (a cache entry can be damaged): the safetensors framing,
    every record's fields and their types, the formats, and every tensor's dtype and shape
    against the record; any problem is one ``ValueError`` naming the field.
    """
    try:
        tensors = load_tensors(blob)  # checks the framing first
        header = json.loads(blob[8 : 8 + int.from_bytes(blob[:8], "little")])["__metadata__"]
        records, meta = json.loads(header["workloads"]), json.loads(header["meta"])
    except (ValueError, KeyError, TypeError, RecursionError, SafetensorError) as err:
        raise input_error(None, f"not a workload file written by panacea ({type(err).__name__}: {err})") from err
    if not isinstance(records, dict) or not all(isinstance(r, list) for r in records.values()):
        raise input_error(None, "expected an object of lists", field="workloads")
    groups = {
        group: [_workload(fields, tensors, f"{group}/{i}") for i, fields in enumerate(rows)]
        for group, rows in records.items()
    }
    if not isinstance(meta, dict):
        raise input_error(None, "expected an object", field="meta")
    return groups, meta
