"""The JSSC 2024 arbitrary-quantization accelerator: the published peak envelope, cycles from bits,
energy gating, bad input."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import panacea.hw as hw
from panacea.aq import codebook as cb
from panacea.hw.bitserial import PUBLISHED, peak, synthetic_aq_workload
from panacea.workload.build import aq_workload, synthetic_workload


@pytest.fixture(scope="module")
def model():
    return hw.load("aq-bitserial")


@pytest.mark.parametrize("bits", [1, 8])
def test_peak_follows_the_published_ends_within_20_percent(model, bits):
    p = peak(model, bits, 0.3)
    tops, tops_per_watt = PUBLISHED[bits]
    assert p.tops == pytest.approx(tops, rel=0.2)
    assert p.tops_per_watt == pytest.approx(tops_per_watt, rel=0.2)


def test_peak_falls_with_the_bits_the_engine_processes(model):
    points = [peak(model, b) for b in range(1, 9)]
    assert [p.steps for p in points] == [1, 1, 2, 3, 4, 5, 6, 7]
    for a, b in itertools.pairwise(points):
        assert b.tops <= a.tops and b.tops_per_watt < a.tops_per_watt
    lanes = model.spec.core.rows * model.spec.core.cols * model.spec.core.lanes
    ideal = 2 * lanes * model.spec.clock_mhz * 1e6 / 7 / 1e12
    assert points[-1].tops == pytest.approx(ideal, rel=0.01)  # only the per-fold pipeline is lost


def test_cycles_follow_the_serial_operand_bits(model):
    core = model.spec.core
    gen = torch.Generator().manual_seed(0)
    n, k, m = 2 * core.rows, 3 * core.lanes + 5, core.cols + 7  # a partial chunk and a partial fold
    x = torch.randint(0, 256, (n, k), generator=gen).to(torch.uint8)
    for w_cb, steps in ((cb.uniform(2), 1), (cb.uniform(4), 3), (cb.uniform(8), 7)):
        w = torch.randint(0, 2**w_cb.bits, (m, k), generator=gen).to(torch.uint8)
        cost = model.run(aq_workload(x, cb.uniform(8), w, w_cb))
        folds = 2 * math.ceil(m / core.cols)
        assert cost.cycles_compute == folds * (math.ceil(k / core.lanes) * steps + core.pipeline)
        assert cost.ops["multipliers:add_16"] == n * int((w != 0).sum()) * steps


def test_zeros_save_energy_not_cycles(model):
    opts = dict(n=64, k=256, m=96, block=64, run_bits=4)
    dense, sparse = (model.run(synthetic_aq_workload(4, s, **opts)) for s in (0.0, 0.6))
    assert sparse.cycles_compute == dense.cycles_compute
    assert sparse.energy_pj["multipliers"] == pytest.approx(0.4 * dense.energy_pj["multipliers"], rel=1e-4)
    assert sparse.dram_bits_read < dense.dram_bits_read  # RLE blocks are smaller


def test_grouped_workloads_cost_each_group(model):
    gen = torch.Generator().manual_seed(1)
    x = torch.randint(0, 16, (40, 3 * 9), generator=gen).to(torch.uint8)
    w = torch.randint(0, 16, (8, 3 * 9), generator=gen).to(torch.uint8)
    one = model.run(aq_workload(x, cb.uniform(4), w, cb.uniform(4), groups=3))
    assert one.macs == 40 * 8 * 3 * 9 and one.cycles_compute == 3 * 3 * (1 * 3 + model.spec.core.pipeline)


def test_wrong_workloads_are_refused(model):
    with pytest.raises(TypeError, match="AQWorkload"):
        model.run(synthetic_workload(8, 16, 8, act_sparsity=0.5, weight_sparsity=0.5))
    with pytest.raises(TypeError, match="Workload or a non-empty list"):
        hw.load("simd").run(synthetic_aq_workload(4, 0.3, n=8, k=16, m=8, block=64, run_bits=4))
    with pytest.raises(ValueError, match="block=32"):
        model.run(synthetic_aq_workload(4, 0.3, n=8, k=16, m=8, block=32, run_bits=4))


def test_spec_is_validated(tmp_path):
    spec = hw.load_spec("aq-bitserial")
    assert spec.kind == "bitserial" and spec.multipliers_4b == 16 * 48 * 16
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'name = "x"\nkind = "bitserial"\n[memory]\nwmem_kb = 8\namem_kb = 8\nomem_kb = 4\n[core]\nrows = 0\n'
    )
    with pytest.raises(ValueError, match=r"core\.rows"):
        hw.load_spec(bad)
