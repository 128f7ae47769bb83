"""Weight- and output-stationary systolic arrays of 8b x 8b MACs, as SCALE-Sim maps a GEMM.

A GEMM ``[N, K] x [M, K]^T`` on a ``rows x cols`` array (SCALE-Sim 3's compute model, which the
test suite checks against the simulator itself):

- output-stationary: each fold maps ``rows`` tokens x ``cols`` output channels onto the PEs and
  streams K through them: ``K + rows + cols - 2`` cycles per fold, ``ceil(N/rows) ceil(M/cols)``
  folds;
- weight-stationary: each fold holds a ``rows`` (K) x ``cols`` block of weights and streams the
  tokens through it: ``N + 2 rows + cols - 2`` cycles per fold, ``ceil(K/rows) ceil(M/cols)`` folds.

SCALE-Sim reports the index of the last cycle, one less than the sum. A weight-stationary array
keeps a column fold's partial sums (``accumulator_bits`` each) in OMEM across its K folds; the
tokens run in chunks whose partial sums fit (the fixed mapping: the largest chunk, all ``N``
tokens when they fit, exactly SCALE-Sim's count; the mapper also tries smaller chunks that leave
room for a block of several column folds), each chunk paying the fold's fill and drain again. Its
loop order is fixed: column-fold blocks, then chunks, then K folds, then the block's folds (the
weights of a block are re-read for every chunk unless they stay in WMEM). Operands wider than 8
bits (12-bit activations, 10-bit weights) take one pass per byte of each: K grows by the product
of the passes and every pass streams its bytes.

Actions: one 8b x 8b multiplication and one accumulation per MAC, operand registers passed between
PEs (output-stationary: both 8-bit operands; weight-stationary: the activation and the partial sum,
plus the weight preload), SRAM reads as each dataflow streams its operands, one PPU pass per output.
"""

from __future__ import annotations

import math

import torch

from panacea.core.slicing import vector_lanes
from panacea.hw.architecture import KB_BITS
from panacea.hw.area import Part
from panacea.hw.cost import Cost
from panacea.hw.mapping import Tiling, tiling
from panacea.hw.model import CostModel, Layout, passes
from panacea.hw.schedule import Timeline, grid
from panacea.hw.spec import SystolicSpec
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

    def parts(self) -> list[Part]:
        """Per PE: an 8b x 8b multiplier, an ``accumulator_bits`` adder and registers for the two
        operands and the partial sum it holds or passes on (both dataflows)."""
        core = self.spec.core
        pes = core.rows * core.cols
        return [
            Part("multipliers", "mult_8x8", pes),
            Part("accumulators", "adder", pes, core.accumulator_bits),
            Part("registers", "register", pes, 2 * OPERAND_BITS + core.accumulator_bits),
        ]

    def _chunk_limit(self) -> int:
        """Tokens of partial sums of one column fold that OMEM holds (weight-stationary)."""
        core = self.spec.core
        return math.floor(self.spec.memory.omem_kb * KB_BITS / (core.cols * core.accumulator_bits))

    def tilings(self, w: Workload) -> list[Tiling]:
        """Weight-stationary: token chunks whose partial sums leave OMEM room for 1, 2, 4, ...
        column folds at once (a smaller chunk pays the fill and drain more often, more folds per
        block re-read the activations less often); output-stationary: the array fold only."""
        out = [self.fixed_tiling()]
        if self.spec.core.dataflow == "ws":
            folds, per_fold = math.ceil(w.m / self.spec.core.cols) * w.groups, self._chunk_limit()
            floor = min(w.n, self.spec.core.rows)
            blocks = 1
            while blocks <= folds and min(w.n, per_fold // blocks) >= max(1, floor):
                out.append(tiling(tile_tokens=min(w.n, per_fold // blocks)))
                blocks *= 2
        return list(dict.fromkeys(out))

    def layout(self, w: Workload, tiling: Tiling) -> Layout:
        core, mem = self.spec.core, self.spec.memory
        r, c, g = core.rows, core.cols, w.groups
        p = passes(w.x_bits) * passes(w.w_bits)
        k_eff = w.k * p
        macs = w.macs * p
        cols = fold_sizes(w.m, c).repeat(g)  # [I]: column folds, group by group
        tile_group = torch.arange(g).repeat_interleave(len(cols) // g)
        byte = float(OPERAND_BITS)
        if core.dataflow == "os":
            tokens = fold_sizes(w.n, r)  # [T]: row folds
            compute = torch.full((len(cols), len(tokens)), float(k_eff + r + c - 2), dtype=torch.float64)
            compute[-1, -1] -= 1  # SCALE-Sim counts the last cycle's index
            layout = grid(
                compute,
                weight_tile=cols * k_eff * byte,
                act_per_group=tokens * k_eff * byte,  # [T], the same for every group
                tile_group=tile_group,
                groups=g,
                out_bits=cols[:, None] * tokens[None, :] * mem.output_bits,
            )
            psums = 0.0
            register_bits = 2 * OPERAND_BITS * macs
            weight_reads = float(layout.weight_need.sum())
        else:
            # Steps (column fold, (token chunk, K fold)), chunks outer: a block of column folds keeps
            # its partial sums for one chunk of tokens in OMEM while the K folds pass.
            krows = fold_sizes(k_eff, r)  # K folds
            chunk = dict(tiling).get("tile_tokens", min(w.n, self._chunk_limit()))
            if chunk < 1:
                raise ValueError(f"{self.name}: memory.omem_kb={mem.omem_kb} cannot hold one row of partial sums")
            tokens = fold_sizes(w.n, chunk)  # token chunks
            n_k = len(krows)
            chunk_of, krows_of = tokens.repeat_interleave(n_k), krows.repeat(len(tokens))  # [T]
            compute = (chunk_of + (2 * r + c - 2))[None, :].expand(len(cols), -1).clone()
            compute[-1, -1] -= 1
            last = (torch.arange(len(chunk_of)) % n_k == n_k - 1).to(torch.float64)
            layout = grid(
                compute,
                weight_tile=cols * k_eff * byte,
                weight_need=cols[:, None] * krows_of[None, :] * byte,
                act_per_group=chunk_of * krows_of * byte,
                tile_group=tile_group,
                groups=g,
                out_bits=cols[:, None] * (chunk_of * last)[None, :] * mem.output_bits,
                orders=(True,),  # column folds outer: their partial sums wait in OMEM
                block_limit=max(1, self._chunk_limit() // chunk),
            )
            weight_reads = float(layout.weight_need.sum())  # the weights are preloaded per chunk
            register_bits = (OPERAND_BITS + core.accumulator_bits) * macs + weight_reads
            psums = float(n_k * (cols * w.n * core.accumulator_bits).sum())
        out_total = float(layout.out_bits.sum())
        act_reads = float(layout.act_need.sum())

        def finish(tl: Timeline) -> Cost:
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
                sram_bits={
                    "wmem.write": tl.weight_loads,
                    "wmem.read": weight_reads,
                    "amem.write": tl.act_loads,
                    "amem.read": act_reads,
                    "omem.write": out_total + psums,
                    "omem.read": out_total + psums,
                },
            )

        return layout, finish
