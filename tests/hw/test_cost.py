"""Cost: energy is the table times the action counts; costs of workloads add up."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources

import pytest

from panacea.hw import BUILTIN_SPECS, COMPONENTS, load, load_energy
from panacea.hw.bitserial import synthetic_aq_workload
from panacea.workload.build import synthetic_workload

TABLE = resources.files("panacea.hw").joinpath("energy_28nm.toml").read_text()


def _workload(scheme: str = "asym", **kw):
    return synthetic_workload(64, 96, 48, act_sparsity=0.6, weight_sparsity=0.4, scheme=scheme, **kw)


def _workload_for(name: str, seed: int = 0):
    if name == "aq-bitserial":
        return synthetic_aq_workload(4, 0.3 + 0.3 * seed, n=64 + 16 * seed, k=96, m=48, block=64, run_bits=4, seed=seed)
    return _workload("sym" if name == "sibia" else "asym")


@pytest.mark.parametrize("name", BUILTIN_SPECS)
def test_energy_is_the_table_times_the_actions(name):
    model = load(name)
    cost = model.run(_workload_for(name))
    table = model.energy
    sizes = {mem: kb for mem, (kb, _) in model.memories().items()}

    def traffic(bits: dict[str, int]) -> float:
        return sum(
            n
            * (
                table.sram.read(sizes[k.split(".")[0]])
                if k.endswith(".read")
                else table.sram.write(sizes[k.split(".")[0]])
            )
            for k, n in bits.items()
        )

    expected = dict.fromkeys(COMPONENTS, 0.0)
    expected["dram"] = (cost.dram_bits_read + cost.dram_bits_written) * table.dram.pj_per_bit
    expected["sram"] = traffic(cost.sram_bits)
    expected["buffers"] = traffic(cost.buffer_bits)
    for key, n in cost.ops.items():
        component, action = key.split(":")
        unit = table.registers.pj_per_bit if action == "register_bits" else getattr(table.logic, action)
        expected[component] += n * unit
    expected["leakage"] = model.leakage_mw * 1e-3 * cost.cycles / cost.clock_hz * 1e12
    assert cost.energy_pj == pytest.approx(expected)
    assert cost.tops_per_watt == pytest.approx(2 * cost.macs / (sum(expected.values()) * 1e-12) / 1e12)
    assert cost.tops == pytest.approx(2 * cost.macs / (cost.cycles / cost.clock_hz) / 1e12)


def test_editing_the_table_changes_only_its_component(tmp_path):
    path = tmp_path / "e.toml"
    path.write_text(TABLE.replace("mult_4x4 = 0.0185", "mult_4x4 = 0.037"))
    w = _workload()
    base = load("panacea").run(w)
    edited = load("panacea", energy=path).run(w)
    assert edited.energy_pj["multipliers"] == pytest.approx(2 * base.energy_pj["multipliers"])
    assert {k: v for k, v in edited.energy_pj.items() if k != "multipliers"} == {
        k: v for k, v in base.energy_pj.items() if k != "multipliers"
    }
    assert edited.cycles == base.cycles  # latency does not depend on the energy table
    assert load("panacea", energy=load_energy(path)).run(w).energy_pj == edited.energy_pj


@pytest.mark.parametrize("name", BUILTIN_SPECS)
def test_a_model_run_is_the_sum_of_its_workloads(name):
    model = load(name)
    a = _workload_for(name)
    b = (
        _workload_for(name, seed=1)
        if name == "aq-bitserial"
        else synthetic_workload(
            32, 64, 80, act_sparsity=0.9, weight_sparsity=0.1, scheme="sym" if name == "sibia" else "asym"
        )
    )
    both = model.run([a, b])
    one, two = model.run(a), model.run(b)
    assert both.workloads == 2
    assert both.cycles == one.cycles + two.cycles
    assert both.macs == one.macs + two.macs
    assert both.ops == {k: one.ops.get(k, 0) + two.ops.get(k, 0) for k in one.ops.keys() | two.ops.keys()}
    assert both.energy_j == pytest.approx(one.energy_j + two.energy_j)
    assert all(0 <= u <= 1 for u in both.utilization.values())


def test_run_rejects_what_is_not_a_workload():
    with pytest.raises(TypeError, match="workload must be a Workload"):
        load("simd").run([])
    with pytest.raises(TypeError, match="workload must be a Workload"):
        load("simd").run("gemm")


def test_costs_of_different_designs_do_not_add():
    w = _workload()
    with pytest.raises(ValueError, match="cannot add costs"):
        load("simd").run(w) + load("sa-os").run(w)


_SUM_OF_COSTS = """
from panacea.hw import load
from panacea.workload.build import synthetic_workload
ws = [synthetic_workload(64, 96, 48 + 16 * i, act_sparsity=0.6, weight_sparsity=0.4, seed=i) for i in range(6)]
total = load("panacea").run(ws)
print(list(total.energy_pj), list(total.ops), repr(total.tops_per_watt))
"""


def test_a_sum_of_costs_is_the_same_in_every_process():
    """The order in which components are summed must not follow string hashing, which changes
    with each process (``PYTHONHASHSEED``): results would differ in their last bits between runs."""
    outputs = set()
    for seed in ("0", "1", "2", "3"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        proc = subprocess.run([sys.executable, "-c", _SUM_OF_COSTS], env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        outputs.add(proc.stdout)
    assert len(outputs) == 1, outputs
