"""The systolic arrays against ZigZag 3.9.1: figures printed by ``benchmarks/bench_zigzag.py``
(ZigZag runs in an environment of its own, so the suite holds its numbers, as it holds SCALE-Sim's).

- With our fixed mapping forced on ZigZag, its DRAM reads and WMEM / AMEM / OMEM writes equal ours
  (on GEMMs whose dims the 32 x 24 array divides).
- ZigZag's own mapper (LOMA, energy objective; weights stationary on SA-WS): its dynamic energy
  without registers (DRAM + SRAM + MAC; ZigZag prices registers differently) and DRAM reads. Our
  searched mapping must stay within 10 % of its energy on the issue's three GEMMs.
"""

from __future__ import annotations

import pytest

import panacea.hw as hw
from panacea.workload.build import synthetic_workload

# (design, N tokens, K, M): ZigZag's counts under our fixed mapping (bits)
FORCED = {
    ("sa-os", 1024, 768, 768): {"dram": 157286400, "wmem": 150994944, "amem": 6291456, "omem": 6291456},
    ("sa-os", 128, 768, 3072): {"dram": 76283904, "wmem": 75497472, "amem": 786432, "omem": 3145728},
    ("sa-os", 256, 768, 2304): {"dram": 114819072, "wmem": 113246208, "amem": 1572864, "omem": 4718592},
    ("sa-os", 128, 3072, 768): {"dram": 119537664, "wmem": 18874368, "amem": 100663296, "omem": 786432},
    # OMEM: ZigZag's partial sums; ours also hold the N x M 8-bit requantised outputs
    ("sa-ws", 1024, 768, 768): {"dram": 206045184, "wmem": 4718592, "amem": 201326592, "omem": 603979776},
    ("sa-ws", 128, 768, 3072): {"dram": 119537664, "wmem": 18874368, "amem": 100663296, "omem": 301989888},
    ("sa-ws", 256, 768, 2304): {"dram": 165150720, "wmem": 14155776, "amem": 150994944, "omem": 452984832},
}

# (design, N, K, M): LOMA's dynamic energy without registers (pJ) and DRAM bits read
LOMA = {
    ("sa-os", 1024, 768, 768): (331448416, 55050240),
    ("sa-os", 128, 768, 3072): (208570454, 38535168),
    ("sa-os", 256, 768, 2304): (289248783, 51904512),
    ("sa-ws", 1024, 768, 768): (552136953, 81788928),
    ("sa-ws", 128, 768, 3072): (239742868, 31457280),
    ("sa-ws", 256, 768, 2304): (377222671, 51904512),
}


def _dense(n: int, k: int, m: int):
    return synthetic_workload(n, k, m, act_sparsity=0.0, weight_sparsity=0.0)


@pytest.mark.parametrize(("case", "theirs"), FORCED.items())
def test_forced_fixed_mapping_counts_equal_zigzags(case, theirs):
    design, n, k, m = case
    cost = hw.load(design, mapping="fixed").run(_dense(n, k, m))
    requantised = n * m * 8 if design == "sa-ws" else 0
    ours = {
        "dram": cost.dram_bits_read,
        "wmem": cost.sram_bits["wmem.write"],
        "amem": cost.sram_bits["amem.write"],
        "omem": cost.sram_bits["omem.write"] - requantised,
    }
    assert ours == theirs


@pytest.mark.parametrize(("case", "theirs"), LOMA.items())
def test_searched_energy_is_within_10_percent_of_zigzags_mapper(case, theirs):
    design, n, k, m = case
    cost = hw.load(design).run(_dense(n, k, m))
    e = cost.energy_pj
    dynamic = e["dram"] + e["sram"] + e["multipliers"] + e["accumulators"]
    energy, dram = theirs
    assert dynamic <= 1.10 * energy
    assert cost.dram_bits_read <= 1.10 * dram
    # the fixed mapping was 1.6-2.2x theirs: the search is what closes the gap
    fixed = hw.load(design, mapping="fixed").run(_dense(n, k, m)).energy_pj
    assert fixed["dram"] + fixed["sram"] + fixed["multipliers"] + fixed["accumulators"] > 1.5 * energy
