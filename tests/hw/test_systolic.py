"""The systolic arrays against figures of the public SCALE-Sim simulator, and their traffic."""

from __future__ import annotations

import pytest

from panacea.hw import load, model_for, with_memory
from panacea.hw.systolic import scalesim_cycles
from panacea.workload.build import synthetic_workload

# SCALE-Sim 3.0.0 ("Total Cycles" of COMPUTE_REPORT.csv; GEMM topology M = tokens, N = output
# channels) on a 32 x 24 array with SRAMs and bandwidth large enough never to stall. Reproduce
# with benchmarks/bench_scalesim.py.
# (tokens, outputs, K): (weight-stationary, output-stationary) cycles
SCALESIM = {
    (50, 30, 7): (271, 243),
    (33, 25, 100): (951, 615),
    (1, 1, 1): (86, 54),
    (100, 200, 64): (3347, 4247),
    (128, 3072, 768): (657407, 420863),  # BERT-base FC1 at 128 tokens
    (128, 768, 3072): (657407, 400127),  # BERT-base FC2
    (256, 2304, 768): (787967, 631295),  # GPT-2 small QKV at 256 tokens
    (128, 4096, 1024): (1171007, 737351),  # OPT-350M FC1 at 128 tokens
}


@pytest.mark.parametrize(("shape", "cycles"), SCALESIM.items())
def test_dense_cycles_agree_with_scalesim(shape, cycles):
    n, m, k = shape
    w = synthetic_workload(n, k, m, act_sparsity=0.0, weight_sparsity=0.0)
    for flow, theirs in zip(("ws", "os"), cycles, strict=True):
        ours = load(f"sa-{flow}", mapping="fixed").run(w).cycles_compute
        assert abs(ours - theirs) <= 0.05 * theirs  # the bar; in fact they are equal
        assert ours == theirs == scalesim_cycles(n, m, k, 32, 24, flow)


def test_weight_stationary_chunks_tokens_when_omem_is_short():
    # 1024 tokens x 24 columns of 32-bit partial sums = 96 KB; 48 KB holds half: two token chunks,
    # each paying the fold's fill and drain (2 x 32 + 24 - 2 cycles) again.
    w = synthetic_workload(1024, 64, 48, act_sparsity=0.0, weight_sparsity=0.0)
    full = load("sa-ws", mapping="fixed").run(w)
    half = model_for(with_memory(load("sa-ws").spec, omem_kb=48), mapping="fixed").run(w)
    folds = 2 * 2  # ceil(64 / 32) K folds x ceil(48 / 24) column folds
    assert half.cycles_compute - full.cycles_compute == folds * (2 * 32 + 24 - 2)


def test_output_stationary_traffic_by_hand():
    # one fold: 32 tokens x 24 outputs, K = 16; every operand byte read once from SRAM
    w = synthetic_workload(32, 16, 24, act_sparsity=0.0, weight_sparsity=0.0)
    cost = load("sa-os").run(w)
    assert cost.cycles_compute == 16 + 32 + 24 - 2 - 1
    assert cost.sram_bits["wmem.read"] == 24 * 16 * 8 and cost.sram_bits["amem.read"] == 32 * 16 * 8
    assert cost.dram_bits_read == (24 + 32) * 16 * 8 and cost.dram_bits_written == 32 * 24 * 8
    assert cost.ops["multipliers:mult_8x8"] == 32 * 24 * 16
    assert cost.utilization["mac"] == pytest.approx(32 * 24 * 16 / (768 * cost.cycles))


def test_wide_operands_take_a_pass_per_byte():
    w8 = synthetic_workload(64, 64, 48, act_sparsity=0.0, weight_sparsity=0.0)
    w12 = synthetic_workload(64, 64, 48, act_sparsity=0.0, weight_sparsity=0.0, x_bits=12)
    assert load("sa-os").run(w12).ops["multipliers:mult_8x8"] == 2 * load("sa-os").run(w8).ops["multipliers:mult_8x8"]


def test_a_spec_without_room_for_partial_sums_is_an_error():
    tiny = with_memory(load("sa-ws").spec, omem_kb=0.01)
    with pytest.raises(ValueError, match="omem_kb"):
        model_for(tiny, mapping="fixed").run(synthetic_workload(8, 8, 24, act_sparsity=0.0, weight_sparsity=0.0))
