"""Sibia and SIMD on cases small enough to count by hand."""

from __future__ import annotations

import pytest

from panacea.hw import load, model_for, with_core
from panacea.workload.build import synthetic_workload

ONE_PEA = with_core(load("sibia").spec, peas=1, tile_tokens=4, tile_k=16)


def _sibia(act_sparsity: float, weight_sparsity: float):
    w = synthetic_workload(4, 16, 4, act_sparsity=act_sparsity, weight_sparsity=weight_sparsity, scheme="sym")
    return model_for(ONE_PEA, mapping="fixed").run(w), w


def test_sibia_all_dense_one_tile():
    cost, w = _sibia(0.0, 0.0)
    # 2 x 2 slice pairs per k, 16 k: 64 outer products on 12 operators -> 6 cycles
    assert cost.cycles_compute == 6
    assert cost.busy == {"operator": 64.0}
    assert cost.ops["multipliers:mult_4x4"] == 1024 == w.counts.mults
    # dense storage: 2 slices x 4 bits x 64 elements per operand
    assert cost.dram_bits_read == 2 * 512


def test_sibia_skips_only_the_sparser_operand():
    cost, w = _sibia(0.5, 1.0)
    # the weights are sparser and skipped: only their low slice works, with both activation slices
    assert w.counts.skipped == "weights"
    assert cost.busy == {"operator": 32.0}
    assert cost.cycles_compute == 3
    assert cost.dram_bits_read == 2 * 512  # storage stays dense


def test_sibia_rejects_asymmetric_workloads():
    w = synthetic_workload(8, 8, 8, act_sparsity=0.5, weight_sparsity=0.5)
    with pytest.raises(ValueError, match="sym"):
        load("sibia").run(w)


def test_simd_one_step():
    spec = with_core(load("simd").spec, units=2, lanes=4, tile_tokens=2)
    cost = model_for(spec, mapping="fixed").run(synthetic_workload(2, 8, 2, act_sparsity=0.0, weight_sparsity=0.0))
    # 2 tokens x ceil(8 / 4) chunks + 4 pipeline cycles
    assert cost.cycles_compute == 8
    # both operands once (2 x 8 x 8 bits each, 1 cycle), the step, the 32-bit drain
    assert cost.dram_bits_read == 256 and cost.dram_bits_written == 32
    assert cost.cycles == round(1 + 8 + 32 / 256)
    assert cost.ops["multipliers:mult_8x8"] == 32


def test_simd_ignores_sparsity_and_wide_operands_take_more_passes():
    model = load("simd")
    dense = model.run(synthetic_workload(64, 128, 96, act_sparsity=0.0, weight_sparsity=0.0))
    sparse = model.run(synthetic_workload(64, 128, 96, act_sparsity=0.9, weight_sparsity=0.9))
    assert dense.cycles == sparse.cycles
    wide = model.run(synthetic_workload(64, 128, 96, act_sparsity=0.0, weight_sparsity=0.0, x_bits=12, w_bits=10))
    assert wide.ops["multipliers:mult_8x8"] == 4 * dense.ops["multipliers:mult_8x8"]
