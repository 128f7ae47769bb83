"""The contract types: what they say about a GEMM follows from their fields, and they run no kernel."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
import torch

import panacea
import panacea.workload
from panacea.workload import AQWorkload, Workload
from panacea.workload.build import synthetic_workload

TYPES = Path(panacea.workload.__file__).with_name("types.py")
KERNELS = ("panacea.gemm", "panacea.aq.arith", "panacea.aq.storage", "panacea.core.intmm")


def _runtime_imports(path: Path) -> set[str]:
    """Modules a file imports when it runs (``if TYPE_CHECKING:`` blocks left out)."""
    out, stack = set(), [ast.parse(path.read_text())]
    while stack:
        for child in ast.iter_child_nodes(stack.pop()):
            if isinstance(child, ast.If) and getattr(child.test, "id", None) == "TYPE_CHECKING":
                continue
            stack.append(child)
            if isinstance(child, ast.ImportFrom):
                out.add(child.module or "")
            elif isinstance(child, ast.Import):
                out.update(a.name for a in child.names)
    return out


def test_the_types_import_no_kernel():
    imported = _runtime_imports(TYPES)
    assert not [m for m in imported if m.startswith(KERNELS)], imported
    assert panacea.workload.__all__ == ["AQWorkload", "Workload"]
    assert panacea.Workload is Workload


def _aq(x_steps: int, w_steps: int, **changes) -> AQWorkload:
    fields = dict(name="aq", n=6, k=5, m=4, groups=2, x_bits=4, w_bits=4, x_steps=x_steps, w_steps=w_steps)
    fields |= dict(x_nonzero=30, w_nonzero=8, x_entries=3, w_entries=1, block=8, run_bits=4)
    fields |= dict(x_row_bits=torch.full((6,), 40), w_row_bits=torch.full((4,), 20))
    return AQWorkload(**(fields | changes))


@pytest.mark.parametrize(("x_steps", "w_steps"), [(1, 1), (1, 3), (3, 1), (2, 2), (4, 3)])
def test_the_serial_operand_is_the_one_with_fewer_steps(x_steps, w_steps):
    """The engine feeds bit by bit the codebook with fewer steps, weights on a tie."""
    assert _aq(x_steps, w_steps).serial == ("weights" if w_steps <= x_steps else "activations")


def test_what_an_arbitrary_quantization_workload_says():
    w = _aq(2, 3)
    assert w.macs == 2 * 6 * 4 * 5
    assert w.formats == (2, 3, 8, 4)
    assert w.densities == (30 / 60, 8 / 40, 240 / 60, 80 / 40)
    assert w.first_channels(1) is None  # its counts are per operand: no channel can be cut off


def test_what_a_bit_slice_workload_says():
    w = synthetic_workload(10, 6, 30, act_sparsity=0.75, weight_sparsity=0.5, lo_bits=5, zero_point=100, groups=2)
    assert w.formats == ("asym", 5, 100, 4, 4)
    assert w.densities == (9 / 36, 48 / 96)  # stored of 3 x 12 activation and 8 x 12 weight vectors
    w4 = dataclasses.replace(w, weight_stored=torch.zeros((0, 12), dtype=torch.bool))
    assert w4.densities[1] == 0.0  # no top slice


def test_the_first_channels_are_whole_vectors_of_every_group():
    w = synthetic_workload(10, 6, 30, act_sparsity=0.5, weight_sparsity=0.5, groups=2)
    cut = w.first_channels(10)
    assert (cut.m, cut.name) == (8, f"{w.name} (sample)")
    assert torch.equal(cut.weight_stored, w.weight_stored[:2]) and cut.act_stored is w.act_stored
    assert w.first_channels(2).m == 4  # at least one vector
    assert w.first_channels(30) is None and w.first_channels(31) is None
