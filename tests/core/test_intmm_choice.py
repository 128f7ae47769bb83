"""Choosing the integer GEMM back end of a device (:mod:`panacea.core.intmm_choice`): the self-checks
catch broken kernels, the fastest exact back end is kept, and ``PANACEA_INTMM`` forces one."""

from __future__ import annotations

import collections
import math
import types

import pytest
import torch

from panacea.core import intmm_backends, intmm_choice
from panacea.core.intmm_backends import ENV_VAR
from panacea.core.intmm_choice import choose_backend, is_exact


def test_self_check_detects_a_saturating_int8_kernel(monkeypatch):
    """A kernel that saturates int16 pair sums (non-VNNI x86, optimum-quanto#309) must be caught."""

    def saturating(a, b):
        prod = a.to(torch.int32).unsqueeze(2) * b.to(torch.int32).unsqueeze(0)  # [n, k, m]
        k = prod.shape[1] - prod.shape[1] % 2
        pairs = (prod[:, :k:2] + prod[:, 1:k:2]).clamp(-(2**15), 2**15 - 1)
        return pairs.sum(1) + prod[:, k:].sum(1)

    intmm_choice._passes_self_check.cache_clear()
    monkeypatch.setattr(torch, "_int_mm", saturating)
    try:
        assert is_exact("int8") is False
    finally:
        intmm_choice._passes_self_check.cache_clear()


def test_self_check_detects_a_reduced_precision_float_gemm(monkeypatch):
    """A float32 GEMM that rounds its inputs to bf16 (8 significant bits) is caught on 12-bit values."""
    intmm_choice._passes_self_check.cache_clear()
    real = intmm_backends.float_matmul

    def bf16_inputs(a, b, *args):
        return real(a.to(torch.bfloat16).to(a.dtype), b, *args)

    monkeypatch.setattr(intmm_backends, "float_matmul", bf16_inputs)
    try:
        assert is_exact("float32") is False and is_exact("float64") is False
    finally:
        intmm_choice._passes_self_check.cache_clear()


def test_float32_is_not_exact_under_reduced_matmul_precision():
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("medium")
    try:
        assert is_exact("float32") is False
    finally:
        torch.set_float32_matmul_precision(before)


def test_the_choice_is_the_fastest_exact_back_end(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(intmm_choice, "_CHOICES", {})
    times = {"float32": 2e-3, "float64": 3e-3, "int8": 1e-3}
    monkeypatch.setattr(intmm_choice, "_probe_seconds", lambda name, device, give_up: times[name])
    choice = choose_backend("cpu")
    assert choice.backend == "int8" and not choice.forced and choice.probe_ms == {"float32": 2, "float64": 3, "int8": 1}
    assert choose_backend(torch.device("cpu")) is choice  # kept for the process
    assert choice.as_dict()["backend"] == "int8" and "int8 1.0 ms" in choice.describe()

    monkeypatch.setattr(intmm_choice, "_CHOICES", {})
    monkeypatch.setattr(intmm_choice, "is_exact", lambda name, device="cpu": name != "int8")  # a broken kernel
    choice = choose_backend("cpu")
    assert choice.backend == "float32" and "int8" not in choice.probe_ms and "not exact here: int8" in choice.describe()


def test_a_slow_back_end_is_not_timed_to_the_end(monkeypatch):
    """A back end whose first timed call takes over 4x the fastest median is abandoned after it.
    The probe reads a clock that each product moves on by its back end's cost: no wall-clock time,
    so a loaded machine cannot change the outcome."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(intmm_choice, "_CHOICES", {})
    monkeypatch.setattr(intmm_choice, "_PROBE_SHAPE", (16, 64, 16))
    monkeypatch.setattr(intmm_choice, "is_exact", lambda name, device="cpu": True)
    cost = {"float32": 1e-3, "float64": 2e-3, "int8": 1.0}
    clock, calls = [0.0], collections.Counter()
    real = intmm_choice.matmul_by

    def matmul_by(name, *args):
        calls[name] += 1
        clock[0] += cost[name]
        return real(name, *args)

    monkeypatch.setattr(intmm_choice, "matmul_by", matmul_by)
    monkeypatch.setattr(intmm_choice, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))
    choice = choose_backend("cpu")
    assert choice.backend == "float32" and math.isinf(choice.probe_ms["int8"])
    assert choice.probe_ms["float32"] == pytest.approx(1) and choice.probe_ms["float64"] == pytest.approx(2)
    assert calls == {"float32": 4, "float64": 4, "int8": 2}  # int8: its warm-up and one timed call
    assert choice.as_dict()["probe_ms"]["int8"] is None and "int8 too slow" in choice.describe()


def test_forcing_a_back_end(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "float64")
    choice = choose_backend("cpu")
    assert choice.backend == "float64" and choice.forced and f"forced by {ENV_VAR}" in choice.describe()
    monkeypatch.setenv(ENV_VAR, "int4")
    with pytest.raises(ValueError, match=rf"{ENV_VAR} must be one of \['int8', 'float32', 'float64'\].*'int4'"):
        choose_backend("cpu")
    monkeypatch.setenv(ENV_VAR, "int8")
    monkeypatch.setattr(intmm_choice, "_CHOICES", {})
    monkeypatch.setattr(intmm_choice, "is_exact", lambda name, device="cpu": False)
    with pytest.raises(ValueError, match=rf"{ENV_VAR}=int8: that back end is not exact on this cpu"):
        choose_backend("cpu")
