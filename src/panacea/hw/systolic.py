"""Weight- and output-stationary systolic arrays of 8b x 8b MACs, as SCALE-Sim maps a GEMM.

A GEMM ``[N, K] x [M, K]^T`` on a ``rows x cols`` array (SCALE-Sim 3's compute model, which the
test suite checks against the simulator itself):

- output-stationary: each fold maps ``rows`` tokens x ``cols`` output channels onto the PEs and
  streams K through them: ``K + rows + cols - 2`` cycles per fold, ``ceil(N/rows) ceil(M/cols)``
  folds;
- weight-stationary: each fold holds a ``rows`` (K) x ``cols`` block of weights and streams the
  tokens through it: ``N + 2 rows + cols - 2`` cycles per fold, ``ceil(K/rows) ceil(M/cols)`` folds.

SCALE-Sim reports the index of the last cycle, one less than the sum. A weight-stationary array
keeps a column fold's partial sums (``accumulator_bits`` each) in OMEM across its K folds; when
``N x cols`` of them do not fit, the tokens run in chunks that do, each paying the fold's fill and
drain again (with enough OMEM this is exactly SCALE-Sim's count). Its loop order is fixed (column
folds outer). Operands wider than 8 bits (12-bit activations, 10-bit weights) take one pass per
byte of each: K grows by the product of the passes and every pass streams its bytes.

Actions: one 8b x 8b multiplication and one accumulation per MAC, operand registers passed between
PEs (output-stationary: both 8-bit operands; weight-stationary: the activation and the partial sum,
plus the weight preload), SRAM reads as each dataflow streams its operands, one PPU pass per output.
"""

from __future__ import annotations

import math

import torch

from panacea.hw.cost import Cost
from panacea.hw.model import KB_BITS, CostModel, passes
from panacea.hw.spec import SystolicSpec
from panacea.slicing import vector_lanes
from panacea.workload import Workload

OPERAND_BITS = 8


def fold_sizes(extent: int, size: int) -> torch.Tensor:
    """Real extent of each of the ``ceil(extent / size)`` folds (the last may be partial), float64."""
    return vector_lanes(extent, size).to(torch.float64)


def scalesim_cycles(n: int, m: int, k: int, rows: int, cols: int, dataflow: str) -> int:
    """SCALE-Sim 3's compute cycles of a dense GEMM ``[n, k] x [m, k]^T`` (memory not limiting)."""
    if dataflow == "os":
        return math.ceil(n / rows) * math.ceil(m / cols) * (k + rows + cols - 2) - 1
    return math.ceil(k / rows) * math.ceil(m / cols) * (n + 2 * rows + cols - 2) - 1


class SystolicModel(CostModel):
    spec: SystolicSpec

    def actions(self, w: Workload) -> Cost:
        core, mem = self.spec.core, self.spec.memory
        r, c, g = core.rows, core.cols, w.groups
        p = passes(w.x_bits) * passes(w.w_bits)
        k_eff = w.k * p
        macs = w.macs * p
        cols = fold_sizes(w.m, c).repeat(g)  # [I]: column folds, group by group
        byte = float(OPERAND_BITS)
        if core.dataflow == "os":
            tokens = fold_sizes(w.n, r)  # [T]: row folds
            compute = torch.full((len(cols), len(tokens)), float(k_eff + r + c - 2), dtype=torch.float64)
            weight_tile = cols * k_eff * byte
            weight_need = weight_tile[:, None].expand_as(compute)
            act_per_group = tokens * k_eff * byte  # [T], the same for every group
            out_bits = cols[:, None] * tokens[None, :] * mem.output_bits
            orders: tuple[bool, ...] = (True, False)
            chunks = 1
            register_bits = 2 * OPERAND_BITS * macs
        else:
            krows = fold_sizes(k_eff, r)  # [T]: K folds
            chunk = min(w.n, math.floor(mem.omem_kb * KB_BITS / (c * core.accumulator_bits)))
            if chunk < 1:
                raise ValueError(f"{self.name}: memory.omem_kb={mem.omem_kb} cannot hold one row of partial sums")
            chunks = math.ceil(w.n / chunk)
            per_fold = w.n + chunks * (2 * r + c - 2)
            compute = torch.full((len(cols), len(krows)), float(per_fold), dtype=torch.float64)
            weight_tile = cols * k_eff * byte
            weight_need = cols[:, None] * krows[None, :] * byte
            act_per_group = w.n * krows * byte
            out_bits = torch.zeros_like(compute)
            out_bits[:, -1] = cols * w.n * mem.output_bits
            orders = (True,)  # column folds outer: their partial sums wait in OMEM
            register_bits = (OPERAND_BITS + core.accumulator_bits) * macs + float(weight_need.sum()) * chunks
        compute[-1, -1] -= 1  # SCALE-Sim counts the last cycle's index
        act_need = act_per_group[None, :].expand_as(compute)  # a column fold uses its own group
        tl = self._schedule(
            compute,
            weight_need=weight_need,
            weight_tile_bits=weight_tile,
            act_need=act_need,
            act_tile_bits=act_per_group * g,
            out_bits=out_bits,
            orders=orders,
        )
        out_total = float(out_bits.sum())
        if core.dataflow == "os":
            sram = {"wmem.read": float(weight_need.sum()), "amem.read": float(act_need.sum())}
            psums = 0.0
        else:
            sram = {"wmem.read": float(weight_need.sum()) * chunks, "amem.read": float(act_need.sum())}
            psums = float((cols[:, None] * w.n * core.accumulator_bits).expand_as(compute).sum())
        sram |= {
            "wmem.write": tl.weight_loads,
            "amem.write": tl.act_loads,
            "omem.write": out_total + psums,
            "omem.read": out_total + psums,
        }
        return self._cost(
            w,
            tl,
            busy={"mac": macs},
            units={"mac": r * c},
            ops={
                "multipliers:mult_8x8": macs,
                "accumulators:accumulate": macs,
                "post_processing:ppu_output": w.groups * w.m * w.n,
                "buffers:register_bits": register_bits,
            },
            sram_bits=sram,
        )
