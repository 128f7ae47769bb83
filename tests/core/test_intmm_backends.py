"""The exact integer GEMM back ends (:mod:`panacea.core.intmm_backends`): the float plans and
their chunk bounds, and every back end at and over the bound where it must split K."""

from __future__ import annotations

import pytest
import torch

from panacea.core import intmm_backends
from panacea.core.intmm import int_matmul
from panacea.core.intmm_backends import ENV_VAR, FloatPlan, float_plan


def _worst_case(k: int, a_value: int, b_value: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    a = torch.full((2, k), a_value, dtype=torch.int16)
    b = torch.full((3, k), b_value, dtype=torch.int16)
    return a, b, torch.full((2, 3), a_value * b_value * k, dtype=torch.int64)


# (a range, b range, the worst values: the largest |a - centre| and |b|)
FLOAT32_CASES = [
    ((0, 255), (-63, 63), [(0, -63), (0, 63), (255, 63)]),  # 8-bit activations, 7-bit weights: chunk 2,080
    ((0, 4095), (-63, 63), [(0, 63), (4095, -63)]),  # 12-bit activations: chunk 130
    ((0, 255), (-511, 511), [(0, -511), (255, 511)]),  # 10-bit weights: chunk 256
    ((-63, 63), (-63, 63), [(-63, -63), (63, -63)]),  # Sibia's 7-bit activations: chunk 4,227
]


@pytest.mark.parametrize(("a_range", "b_range", "values"), FLOAT32_CASES)
def test_float32_chunks_are_exact_at_and_over_their_bound(monkeypatch, a_range, b_range, values):
    monkeypatch.setenv(ENV_VAR, "float32")
    plan = float_plan(1 << 20, a_range, b_range, torch.float32)
    assert plan.dtype == torch.float32
    centred = (a_range[0] - plan.centre, a_range[1] - plan.centre)
    bound = intmm_backends._bound(centred, b_range)
    assert plan.chunk * bound <= 2**24 < (plan.chunk + 1) * bound
    for k in (plan.chunk, plan.chunk + 1):
        for va, vb in values:
            a, b, want = _worst_case(k, va, vb)
            assert torch.equal(int_matmul(a, b, a_range=a_range, b_range=b_range), want), (k, va, vb)


def test_the_float32_chunk_bounds_of_the_papers_formats():
    assert float_plan(1024, (0, 255), (-63, 63), torch.float32) == FloatPlan(torch.float32, 0, 1044)
    assert float_plan(1536, (0, 255), (-63, 63), torch.float32) == FloatPlan(torch.float32, 128, 2080)
    assert float_plan(4096, (0, 255), (-63, 63), torch.float32).chunks(4096) == 2  # centred: 2 chunks, not 4
    assert float_plan(1536, (0, 4095), (-63, 63), torch.float32) == FloatPlan(torch.float32, 2048, 130)
    # 12-bit activations with 10-bit weights: chunks of 16 would be slower than one float64 GEMM
    assert float_plan(1536, (0, 4095), (-511, 511), torch.float32).dtype == torch.float64
    assert float_plan(16, (0, 4095), (-511, 511), torch.float32).dtype == torch.float32  # K fits one chunk


def test_float_chunks_when_every_limit_is_small(monkeypatch):
    """Many chunks, summed in float64 and in int64, with the limits shrunk to force them."""
    monkeypatch.setitem(intmm_backends._EXACT, torch.float32, 50_000)  # chunks of 6 columns (centred: |x w| <= 8,064)
    monkeypatch.setattr(intmm_backends, "MIN_FLOAT32_CHUNK", 1)
    assert float_plan(37, (0, 255), (-63, 63), torch.float32) == FloatPlan(torch.float32, 128, 6)
    a = torch.randint(0, 256, (5, 37), dtype=torch.uint8)
    b = torch.randint(-63, 64, (4, 37), dtype=torch.int8)
    for backend in ("float32", "float64"):
        monkeypatch.setenv(ENV_VAR, backend)
        assert torch.equal(int_matmul(a, b, a_range=(0, 255), b_range=(-63, 63)), a.long() @ b.long().T)
    monkeypatch.setitem(intmm_backends._EXACT, torch.float64, 10_000)  # the sum of chunks no longer fits float64
    monkeypatch.setenv(ENV_VAR, "float64")
    assert torch.equal(int_matmul(a, b, a_range=(0, 255), b_range=(-63, 63)), a.long() @ b.long().T)


def test_int8_chunks_are_exact_at_and_over_their_bound(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "int8")
    chunk = intmm_backends._INT32_MAX // (128 * 128)  # full-range int8 digits: 131,072
    for k in (chunk, chunk + 1):
        for va, vb in ((-128, -128), (-128, 127), (127, 127)):
            a, b, want = _worst_case(k, va, vb)
            got = int_matmul(a.to(torch.int8), b.to(torch.int8), a_range=(-128, 127), b_range=(-128, 127))
            assert torch.equal(got, want)


def test_int8_k_is_chunked_before_int32_overflows(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "int8")
    monkeypatch.setattr(intmm_backends, "_INT32_MAX", 5000)  # forces chunks of 2-3 columns
    a = torch.randint(0, 256, (5, 17), dtype=torch.uint8)
    b = torch.randint(-63, 64, (4, 17), dtype=torch.int8)
    assert torch.equal(int_matmul(a, b, a_range=(0, 255), b_range=(-63, 63)), a.long() @ b.long().T)
