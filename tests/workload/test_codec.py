"""The workload file format: exact round trips, the bytes of files already written, and one clear
error naming the field for a damaged record."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path

import pytest
import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from panacea.aq.codebook import uniform
from panacea.gemm import GemmCounts
from panacea.workload import AQWorkload, Workload
from panacea.workload.build import aq_workload, gemm_workload, synthetic_workload
from panacea.workload.codec import (
    AQWorkloadRecord,
    CountsRecord,
    WorkloadRecord,
    save_workloads,
    workloads_from_bytes,
    workloads_to_bytes,
)

# A file as panacea 0.1.0 writes it (tests/workload/data/workloads.safetensors), pinned: the groups
# of _fixture_groups() with _FIXTURE_META.
FIXTURE = Path(__file__).parent / "data" / "workloads.safetensors"
_FIXTURE_META = {"model": "fixture", "metrics": {"perplexity": 1.5}}


def _fixture_groups() -> dict:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(100, 160, (10, 24), generator=g)
    w = torch.randint(-20, 21, (6, 24), generator=g)
    asym = gemm_workload(x, w, 130, lo_bits=5, groups=2, name="fc")
    sym = gemm_workload(w.clamp(-7, 7), w, None, x_bits=4, name="sym")
    w4 = synthetic_workload(9, 20, 30, act_sparsity=0.5, weight_sparsity=0.3, w_bits=4, x_bits=12, name="w4")
    xc = torch.randint(0, 8, (5, 16), generator=g, dtype=torch.int64).to(torch.uint8)
    wc = torch.randint(0, 4, (3, 16), generator=g, dtype=torch.int64).to(torch.uint8)
    aq = aq_workload(xc, uniform(3), wc, uniform(2), groups=2, block=8, run_bits=3, name="aq")
    variant = dataclasses.replace(asym, name="shares fc's masks")
    return {"main": [asym, sym, w4], "aq": [aq], "variant": [variant], "empty": []}


def _parts(blob: bytes) -> tuple[int, dict, bytes]:
    """A safetensors blob as (length, header, tensor data). safetensors writes its two metadata
    entries in an order that changes from one call to the next, so blobs are compared this way."""
    n = int.from_bytes(blob[:8], "little")
    return len(blob), json.loads(blob[8 : 8 + n]), blob[8 + n :]


def _same_workloads(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for group in a:
        assert len(a[group]) == len(b[group])
        for before, after in zip(a[group], b[group], strict=True):
            assert type(before) is type(after)
            for field in dataclasses.fields(before):
                x, y = getattr(before, field.name), getattr(after, field.name)
                assert torch.equal(x, y) and x.dtype == y.dtype if isinstance(x, torch.Tensor) else x == y, field.name


def test_a_file_written_before_loads_and_saves_to_the_same_bytes(tmp_path):
    blob = FIXTURE.read_bytes()
    groups, meta = workloads_from_bytes(blob)
    assert meta == _FIXTURE_META
    _same_workloads(groups, _fixture_groups())
    assert _parts(workloads_to_bytes(groups, meta)) == _parts(blob)
    assert _parts(workloads_to_bytes(_fixture_groups(), _FIXTURE_META)) == _parts(blob)
    save_workloads(tmp_path / "again.safetensors", groups, meta)
    assert _parts((tmp_path / "again.safetensors").read_bytes()) == _parts(blob)


def test_workloads_round_trip_through_bytes_exactly():
    groups = _fixture_groups()
    back, meta = workloads_from_bytes(workloads_to_bytes(groups, {"metrics": {"perplexity": 1.5}}))
    assert meta == {"metrics": {"perplexity": 1.5}}
    _same_workloads(groups, back)
    assert back["main"][2].weight_stored.shape == (0, 20)  # 4-bit weights: no top slice, shape kept


def test_workloads_saved_to_a_file_round_trip_exactly(tmp_path):
    """save_workloads streams to the file (a paper-sized capture is never held twice in memory);
    workloads_from_bytes reads it back exactly; nothing else is left in the directory."""
    groups = _fixture_groups()
    save_workloads(tmp_path / "capture.safetensors", groups, {"k": 1})
    back, meta = workloads_from_bytes((tmp_path / "capture.safetensors").read_bytes())
    assert meta == {"k": 1}
    _same_workloads(groups, back)
    assert [p.name for p in tmp_path.iterdir()] == ["capture.safetensors"]


def test_the_records_hold_every_field_but_the_tensors():
    tensors = {Workload: {"act_stored", "weight_stored"}, AQWorkload: {"x_row_bits", "w_row_bits"}}
    for cls, record in ((Workload, WorkloadRecord), (AQWorkload, AQWorkloadRecord)):
        assert set(record.model_fields) == {f.name for f in dataclasses.fields(cls)} - tensors[cls]
    assert list(CountsRecord.model_fields) == list(typing.get_type_hints(GemmCounts))


def _damaged(path: tuple, value: object = None, *, delete: bool = False) -> bytes:
    """The fixture with the record field at ``path`` (group, index, key, ...) set or deleted."""
    blob = FIXTURE.read_bytes()
    metadata = json.loads(blob[8 : 8 + int.from_bytes(blob[:8], "little")])["__metadata__"]
    records = json.loads(metadata["workloads"])
    parent = records
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return save_tensors(load_tensors(blob), metadata={**metadata, "workloads": json.dumps(records)})


@pytest.mark.parametrize(
    ("path", "value", "delete", "names"),
    [
        (("main", 0, "xyz"), 1, False, ("workloads.main.0", "xyz")),
        (("main", 0, "n"), None, True, ("workloads.main.0", "n")),
        (("main", 0, "x_bits"), "8", False, ("workloads.main.0", "x_bits")),
        (("main", 0, "x_bits"), 9, False, ("workloads.main.0", "x_bits", "not allowed with scheme")),
        (("main", 1, "zero_point"), 3, False, ("workloads.main.1", "zero_point")),
        (("main", 0, "zero_point"), 300, False, ("workloads.main.0", "zero_point", "exceeds 8-bit")),
        (("main", 0, "vector"), True, False, ("workloads.main.0", "vector")),
        (("main", 0, "counts", "mults_hh"), -1, False, ("workloads.main.0.counts", "mults_hh")),
        (("main", 0, "counts", "skipped"), None, True, ("workloads.main.0.counts", "skipped")),
        (("main", 0, "counts"), [], False, ("workloads.main.0", "counts")),
        (("main", 0, "type"), "Nope", False, ("workloads.main.0", "type")),
        (("main", 0), "a workload", False, ("workloads.main.0",)),
        (("aq", 0, "block"), 0, False, ("workloads.aq.0", "block")),
        (("aq", 0, "groups"), 1 << 23, False, ("workloads.aq.0", "groups", "exceeds 2^24")),
        (("main", 0, "n"), 13, False, ("workloads.main.0", "act_stored")),
        (("aq", 0, "m"), 4, False, ("workloads.aq.0", "w_row_bits")),
    ],
)
def test_a_damaged_record_is_one_error_naming_its_field(path, value, delete, names):
    with pytest.raises(ValueError) as err:
        workloads_from_bytes(_damaged(path, value, delete=delete))
    message = str(err.value)
    assert "\n" not in message
    assert all(name in message for name in names), message


@pytest.mark.parametrize("blob", [b"", b"not a safetensors file", FIXTURE.read_bytes()[:100]])
def test_bytes_that_are_no_workload_file(blob):
    with pytest.raises(ValueError, match="not a workload file written by panacea"):
        workloads_from_bytes(blob)
