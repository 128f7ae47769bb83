"""The PEA's datapath units simulated bit-exact, a planted bug caught, Yosys equivalence and area."""

import random

import pytest
from amaranth import Module

from panacea.rtl.check import (
    compensator_mismatches,
    multiplier_mismatches,
    outer_product_mismatches,
    shift_accumulator_mismatches,
)
from panacea.rtl.synth import GATE_EQUIVALENTS, UM2_PER_GE, prove_equivalent, synthesize, verilog
from panacea.rtl.units import Compensator, OuterProduct, ShiftAccumulator, SliceMultiplier


class UnsignedWeightMultiplier(SliceMultiplier):
    """A planted bug: the weight slice read as unsigned (its sign bit taken as +8)."""

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.p.eq(self.w.as_unsigned() * self.x)
        return m


def _vectors(rng: random.Random, vector: int, count: int) -> list[tuple[list[int], list[int]]]:
    edges = [([-8] * vector, [15] * vector), ([7] * vector, [15] * vector), ([0] * vector, [0] * vector)]
    return edges + [
        ([rng.randint(-8, 7) for _ in range(vector)], [rng.randint(0, 15) for _ in range(vector)]) for _ in range(count)
    ]


def test_the_multiplier_is_exact_on_every_input_pair():
    assert multiplier_mismatches() == []


@pytest.mark.parametrize("vector", [1, 2, 4, 8])
def test_the_outer_product_is_exact_on_random_and_extreme_vector_pairs(vector):
    assert outer_product_mismatches(OuterProduct(vector), _vectors(random.Random(vector), vector, 200)) == []


def test_a_weight_slice_read_unsigned_is_caught_by_simulation_and_by_equivalence():
    bad = multiplier_mismatches(UnsignedWeightMultiplier())
    assert len(bad) == 8 * 15  # every negative weight slice times every non-zero activation slice
    assert all(m.inputs["w"] < 0 and m.inputs["x"] > 0 for m in bad)
    assert outer_product_mismatches(OuterProduct(4, UnsignedWeightMultiplier), _vectors(random.Random(0), 4, 20))
    assert not prove_equivalent(OuterProduct(2), "opc", OuterProduct(2, UnsignedWeightMultiplier))


def _steps(rng: random.Random, count: int, operand: str, lanes: int, lo: int, hi: int, *, inputs: int, rows: int,
           shifts: int | None = None) -> list[dict]:  # fmt: skip
    steps = []
    for i in range(count):
        s = {
            operand: [[rng.randint(lo, hi) for _ in range(lanes)] for _ in range(inputs)],
            "valid": [rng.random() < 0.7 for _ in range(inputs)],
            "row": rng.randrange(rows),
            "en": rng.random() < 0.8,
            "clear": i == 0 or rng.random() < 0.05,
        }
        if shifts is not None:
            s["shift"] = [rng.randint(0, shifts) for _ in range(inputs)]
        steps.append(s)
    return steps


@pytest.mark.parametrize("inputs, rows", [(1, 1), (4, 3)])
def test_the_shift_accumulator_sums_shifted_products_exactly(inputs, rows):
    dut = ShiftAccumulator(vector=4, acc_bits=32, max_shift=9, rows=rows, inputs=inputs)
    steps = _steps(random.Random(1), 150, "p", 16, -120, 105, inputs=inputs, rows=rows, shifts=9)
    extreme = {"p": [[-120] * 16] * inputs, "shift": [9] * inputs, "valid": [True] * inputs, "row": rows - 1}
    steps += [{**extreme, "en": True, "clear": False}] * 20  # a long run of the most negative sums
    assert shift_accumulator_mismatches(dut, steps) == []


@pytest.mark.parametrize("inputs, rows", [(1, 1), (4, 3)])
def test_the_compensator_sums_loaded_weight_slices_exactly(inputs, rows):
    dut = Compensator(vector=4, acc_bits=14, rows=rows, inputs=inputs)
    assert compensator_mismatches(dut, _steps(random.Random(2), 200, "w", 4, -64, 56, inputs=inputs, rows=rows)) == []


def test_an_accumulator_too_narrow_for_its_sums_is_reported():
    steps = [{"w": [[7, -8, 0, 1]], "valid": [True], "row": 0, "en": i > 0, "clear": i == 0} for i in range(20)]
    bad = compensator_mismatches(Compensator(vector=4, acc_bits=8), steps)
    assert bad[0].step == 17 and bad[0].want[1] == -136  # -8 x 17: the first sum outside 8 bits


@pytest.mark.slow
def test_yosys_proves_the_outer_product_and_the_compensator_equal_their_netlists():
    assert prove_equivalent(OuterProduct(4), "opc")
    assert prove_equivalent(Compensator(4, 8), "cs")


@pytest.mark.slow
def test_synthesis_counts_cells_with_a_stated_size_and_exports_verilog():
    mul = synthesize(SliceMultiplier(), "mul")
    opc = synthesize(OuterProduct(4), "opc")
    assert set(opc.cells) <= set(GATE_EQUIVALENTS) and sum(opc.cells.values()) > 0
    # 16 multipliers and nothing else (ABC, run on the flattened OPC, trades a few gate types)
    assert opc.gate_equivalents == pytest.approx(16 * mul.gate_equivalents, rel=0.02)
    assert opc.um2 == pytest.approx(opc.gate_equivalents * UM2_PER_GE)
    text = verilog(OuterProduct(2), "opc")
    assert "module opc" in text and "endmodule" in text
