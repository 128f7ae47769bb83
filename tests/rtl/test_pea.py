"""The PEA simulated on golden vectors of random and real tiles equals aqs_gemm, bit for bit; its
cycles against the cost model's."""

import math

import pytest
import torch

import panacea.hw as hw
from panacea.core.slicing import act_vector_stored, weight_vector_stored
from panacea.flows.operands import layer_operands
from panacea.gemm import aqs_gemm
from panacea.rtl.check import run_pea
from panacea.rtl.pea import formula_cycles, row_packed_cycles, tile_work
from panacea.rtl.vectors import tile_vectors
from panacea.workload.build import gemm_workload
from tests.rtl.test_units import UnsignedWeightMultiplier

pytestmark = pytest.mark.slow  # each simulation takes seconds


def _tile(seed, *, zero_point, spread, w_max, lo_bits=4, rows=2, kc=16, index_bits=4):
    g = torch.Generator().manual_seed(seed)
    x = (zero_point + torch.randint(-spread, spread + 1, (rows * 4, kc), generator=g)).clamp(0, 255).to(torch.uint8)
    w = torch.randint(-w_max, w_max + 1, (4, kc), generator=g).to(torch.int8)
    return tile_vectors(x, w, zero_point, lo_bits=lo_bits, rows=rows, kc=kc, index_bits=index_bits)


CASES = {
    "all compressed": dict(zero_point=136, spread=4, w_max=7),  # x >> 4 == r, |w| <= 7: no HO vector stored
    "nothing compressed": dict(zero_point=128, spread=127, w_max=63),
    "mixed": dict(zero_point=100, spread=12, w_max=20),
    "r = 0": dict(zero_point=8, spread=30, w_max=40),
    "DBS type 2": dict(zero_point=96, spread=40, w_max=30, lo_bits=5),
    "DBS type 3": dict(zero_point=160, spread=70, w_max=30, lo_bits=6),
    "fillers (2-bit indices, long runs)": dict(zero_point=136, spread=5, w_max=9, index_bits=2, kc=32),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_the_pea_equals_aqs_gemm_on_random_tiles(case):
    tv = _tile(1, **CASES[case])
    run = run_pea(tv)
    assert torch.equal(run.psum, tv.psum) and torch.equal(run.cs, tv.cs) and torch.equal(run.out, tv.out)
    assert run.cycles >= math.ceil(tv.rows * tv.kc / 8)  # the SWOs' LL work bounds it below


def test_a_planted_bug_in_the_pea_is_caught():
    from panacea.rtl.pea import PEA

    tv = _tile(2, **CASES["mixed"])
    bad = run_pea(tv, pea=PEA(rows=tv.rows, kc=tv.kc, multiplier=UnsignedWeightMultiplier))
    assert not torch.equal(bad.out, tv.out)


@pytest.mark.parametrize(
    "model, layer",
    [("smollm2-135m", "model.layers.3.self_attn.q_proj"), ("minilm-l6", "encoder.layer.2.attention.self.query")],
)
def test_the_pea_equals_aqs_gemm_on_a_real_tile_and_its_cycles_bound_the_cost_model_s(model, layer):
    op = layer_operands(model, layer, tokens=256)
    tv = tile_vectors(op.x_q, op.w_q, op.zero_point, lo_bits=op.lo_bits, m_row=1, n_row=2, rows=2, kc=32)
    run = run_pea(tv)
    assert torch.equal(run.out, tv.out) and torch.equal(run.psum, tv.psum)
    x, w = op.x_q[8:16, :32], op.w_q[4:8, :32]
    assert torch.equal(run.out, aqs_gemm(x, w, op.zero_point, lo_bits=op.lo_bits).output.T)
    d_rows, s, c = tile_work(*tv.stored())
    assert tv.stored()[0].equal(weight_vector_stored(w, 7, 4)[0])
    assert tv.stored()[1].equal(act_vector_stored(x, op.zero_point, 8, op.lo_bits, 4))
    ideal = formula_cycles(sum(d_rows), s, c, dwo=4, swo=8, compensators=2, compensator_saccs=4)
    # the cost model on the same tile (one PEA's work) gives the formula's cycles
    model_cycles = hw.load("panacea", mapping="fixed").run(gemm_workload(x, w, op.zero_point, lo_bits=op.lo_bits))
    assert model_cycles.cycles_compute == ideal
    # the scheduler never packs two rows' jobs into a cycle: exactly the row-packed cycles here
    assert ideal <= row_packed_cycles(d_rows, s, dwo=4, swo=8) == run.cycles
