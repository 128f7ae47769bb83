"""Workloads in a file: named lists of :class:`~panacea.workload.types.Workload` /
:class:`~panacea.workload.types.AQWorkload` (and JSON-able metadata) as one safetensors blob.

The tensor fields are tensors ``GROUP/I/FIELD``; every other field (the counts included) is a JSON
record in the header's ``workloads`` entry, ``{GROUP: [record, ...]}``, each with its ``type``.
Reading checks everything before use (a cache entry can be damaged): the records through the
pydantic models below, then every tensor's dtype and shape against its record.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import typing
from typing import Annotated, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, create_model, model_validator
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from safetensors.torch import save_file

from panacea.core.checks import input_error, shown, validated
from panacea.core.files import atomic_write
from panacea.core.formats import ACT_BITS, LO_BITS, WEIGHT_BITS, act_slice_count, weight_slice_count
from panacea.gemm import GemmCounts
from panacea.workload.types import AQWorkload, Workload

AnyWorkload = Workload | AQWorkload
_TENSORS = {Workload: ("act_stored", "weight_stored"), AQWorkload: ("x_row_bits", "w_row_bits")}
MAX_DIM = 1 << 24  # tokens, channels, or groups x K of one stored workload
_Dim = Annotated[int, Field(ge=1, le=MAX_DIM)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Kind(BaseModel):
    """What a record is: its ``type`` (the rest is checked by that type's record model)."""

    model_config = ConfigDict(extra="allow", strict=True)
    type: Literal["Workload", "AQWorkload"]


class _Record(_Strict):
    """The fields both workload types share."""

    name: str
    n: _Dim
    k: _Dim
    m: _Dim
    groups: _Dim

    @model_validator(mode="after")
    def _stacked_k(self) -> _Record:
        if self.groups * self.k > MAX_DIM:  # costing allocates along it; no layer of a real model comes near
            raise ValueError(f"groups: groups x k = {self.groups * self.k} exceeds 2^24")
        return self


class WorkloadRecord(_Record):
    """A :class:`Workload` without its masks. ``counts`` is checked on its own
    (:data:`CountsRecord`) so that its errors name ``counts.FIELD`` under the record's path."""

    scheme: Literal["asym", "sym"]
    x_bits: NonNegativeInt
    w_bits: NonNegativeInt
    lo_bits: NonNegativeInt
    zero_point: NonNegativeInt | None
    vector: Annotated[int, Field(ge=1, le=64)]
    index_bits: Annotated[int, Field(ge=1, le=16)]
    counts: dict[str, object]

    @model_validator(mode="after")
    def _formats(self) -> WorkloadRecord:
        asym = self.scheme == "asym"
        allowed = {
            "x_bits": self.x_bits in (ACT_BITS if asym else WEIGHT_BITS),
            "w_bits": self.w_bits in WEIGHT_BITS,
            "lo_bits": self.lo_bits in LO_BITS,
            "zero_point": (self.zero_point is None) != asym,
        }
        for key, ok in allowed.items():
            if not ok:
                raise ValueError(f"{key}: {shown(getattr(self, key))} is not allowed with scheme {shown(self.scheme)}")
        if asym and self.zero_point > 2**self.x_bits - 1:
            raise ValueError(f"zero_point: {self.zero_point} exceeds {self.x_bits}-bit activations")
        return self

    def tensor_shapes(self) -> dict[str, tuple[torch.dtype, tuple[int, ...]]]:
        """Dtype and shape of each mask: a row per slice vector of an operand with a top slice."""
        x_slices = (act_slice_count if self.scheme == "asym" else weight_slice_count)(self.x_bits)
        x_rows = math.ceil(self.n / self.vector) if x_slices > 1 else 0
        w_rows = math.ceil(self.m / self.vector) if weight_slice_count(self.w_bits) > 1 else 0
        kk = self.groups * self.k
        return {"act_stored": (torch.bool, (x_rows, kk)), "weight_stored": (torch.bool, (w_rows, kk))}


# GemmCounts' own fields, so that the record cannot drift from the dataclass: counts are >= 0
CountsRecord = create_model(
    "CountsRecord",
    __base__=_Strict,
    **{
        name: (NonNegativeInt if hint is int else hint, ...) for name, hint in typing.get_type_hints(GemmCounts).items()
    },
)


class AQWorkloadRecord(_Record):
    """An :class:`AQWorkload` without its per-row stored bits."""

    x_bits: Annotated[int, Field(ge=1, le=8)]
    w_bits: Annotated[int, Field(ge=1, le=8)]
    x_steps: Annotated[int, Field(ge=1, le=8)]
    w_steps: Annotated[int, Field(ge=1, le=8)]
    x_nonzero: NonNegativeInt
    w_nonzero: NonNegativeInt
    x_entries: NonNegativeInt
    w_entries: NonNegativeInt
    block: Annotated[int, Field(ge=1, le=1 << 20)]
    run_bits: Annotated[int, Field(ge=1, le=16)]

    def tensor_shapes(self) -> dict[str, tuple[torch.dtype, tuple[int, ...]]]:
        return {"x_row_bits": (torch.int64, (self.n,)), "w_row_bits": (torch.int64, (self.m,))}


_RECORDS: dict[str, tuple[type[WorkloadRecord | AQWorkloadRecord], type[AnyWorkload]]] = {
    "Workload": (WorkloadRecord, Workload),
    "AQWorkload": (AQWorkloadRecord, AQWorkload),
}


def _workload_tensors(
    groups: dict[str, list[AnyWorkload]], meta: dict | None
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The safetensors tensors and metadata of :func:`workloads_to_bytes` / :func:`save_workloads`:
    the tensor fields as tensors, every other field (counts included) as JSON in the header."""
    tensors, records, seen = {}, {}, set()
    for group, workloads in groups.items():
        records[group] = []
        for i, w in enumerate(workloads):
            names = _TENSORS[type(w)]
            fields = {f.name: getattr(w, f.name) for f in dataclasses.fields(w) if f.name not in names}
            if "counts" in fields:
                fields["counts"] = dataclasses.asdict(w.counts)
            records[group].append({"type": type(w).__name__, **fields})
            for name in names:  # an empty mask (4-bit weights) is stored with its shape, as a tensor
                t = getattr(w, name).contiguous()
                # safetensors refuses shared storage: a mask two workloads share (a layer's weight
                # mask in its Fig. 18 variant) is written twice
                tensors[f"{group}/{i}/{name}"] = t.clone() if t.data_ptr() in seen and t.numel() else t
                seen.add(t.data_ptr())
    return tensors, {"workloads": json.dumps(records), "meta": json.dumps(meta or {})}


def workloads_to_bytes(groups: dict[str, list[AnyWorkload]], meta: dict | None = None) -> bytes:
    """Named lists of workloads (and JSON-able ``meta``) as one safetensors blob.
    :func:`workloads_from_bytes` inverts it exactly."""
    return save_tensors(*_workload_tensors(groups, meta))


def save_workloads(path: str | os.PathLike, groups: dict[str, list[AnyWorkload]], meta: dict | None = None) -> None:
    """:func:`workloads_to_bytes` written to ``path`` atomically, streamed: a paper-sized model's
    masks (a GB and more) are never held twice in memory."""
    tensors, metadata = _workload_tensors(groups, meta)
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


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


def _workload(fields: object, tensors: dict[str, torch.Tensor], prefix: str) -> AnyWorkload:
    """One workload record and its tensors, checked as :func:`workloads_from_bytes` says."""
    where = f"workloads.{prefix.replace('/', '.')}"
    model, cls = _RECORDS[validated(_Kind, fields, where).type]
    record = validated(model, {k: v for k, v in fields.items() if k != "type"}, where)
    values = record.model_dump()
    if "counts" in values:
        values["counts"] = GemmCounts(**validated(CountsRecord, record.counts, f"{where}.counts").model_dump())
    loaded = {name: _tensor(tensors, f"{prefix}/{name}", *spec, where) for name, spec in record.tensor_shapes().items()}
    return cls(**values, **loaded)


def workloads_from_bytes(blob: bytes) -> tuple[dict[str, list[AnyWorkload]], dict]:
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
