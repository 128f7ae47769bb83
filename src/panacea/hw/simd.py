"""A SIMD array of dense 8-bit vector MACs (in the style of Keller et al., JSSC 2023).

``units`` dot-product units of ``lanes`` 8b x 8b MACs: each unit owns one output channel of an
m-fold of ``units`` channels, the activation chunk of ``lanes`` elements is broadcast to all units,
and a unit reduces its ``lanes`` products per cycle into the partial sum of one (token, channel).
Output-stationary: for an m-fold and a tile of ``tile_tokens`` tokens, the units walk K in chunks
of ``lanes`` and, for each chunk, every token of the tile, so each unit's weight chunk is read once
per token tile and reused from its registers: ``tokens x ceil(K / lanes) + pipeline`` cycles per
step. Operands wider than 8 bits take one pass per byte of each (K grows by their product).
"""

from __future__ import annotations

import math

from panacea.hw.area import Part
from panacea.hw.cost import Cost
from panacea.hw.mapping import Tiling
from panacea.hw.model import CostModel, Layout, passes
from panacea.hw.schedule import Timeline
from panacea.hw.spec import SimdSpec
from panacea.hw.systolic import OPERAND_BITS, fold_sizes
from panacea.workload import Workload


class SimdModel(CostModel):
    """The token tile is the units' accumulators (``core.tile_tokens``, hardware, not mapping):
    fewer tokens per tile only add pipeline drains and weight reads, so the mapper searches the
    blocking above the core."""

    spec: SimdSpec

    def parts(self) -> list[Part]:
        """Per unit: ``lanes`` 8b x 8b multipliers, an adder tree of ``lanes - 1`` 16-bit adders,
        a 32-bit accumulator adder, ``tile_tokens`` 32-bit partial sums and the weight chunk it
        reuses (``lanes`` bytes); the broadcast activation chunk (``lanes`` bytes) once."""
        core = self.spec.core
        return [
            Part("multipliers", "mult_8x8", core.units * core.lanes),
            Part("accumulators", "adder", core.units * (core.lanes - 1), 16),
            Part("accumulators", "adder", core.units, 32),
            Part("registers", "register", core.units * core.tile_tokens, 32),
            Part("registers", "register", core.units + 1, core.lanes * OPERAND_BITS),
        ]

    def layout(self, w: Workload, tiling: Tiling) -> Layout:
        core = self.spec.core
        p = passes(w.x_bits) * passes(w.w_bits)
        k_eff = w.k * p
        macs = w.macs * p
        outputs = fold_sizes(w.m, core.units).repeat(w.groups)  # [I]
        tokens = fold_sizes(w.n, core.tile_tokens)  # [T]
        compute = tokens[None, :] * math.ceil(k_eff / core.lanes) + core.pipeline
        compute = compute.expand(len(outputs), -1).clone()

        def finish(tl: Timeline, sram: dict[str, float]) -> Cost:
            return self._cost(
                w,
                tl,
                busy={"mac": macs},
                units={"mac": core.units * core.lanes},
                ops={
                    "multipliers:mult_8x8": macs,
                    "accumulators:accumulate": macs,
                    "post_processing:ppu_output": w.groups * w.m * w.n,
                    "buffers:register_bits": 2 * OPERAND_BITS * macs,
                },
                sram_bits=sram,
            )

        return self._stream_layout(
            w,
            compute,
            weight_tile=outputs * k_eff * OPERAND_BITS,
            act_per_group=tokens * k_eff * OPERAND_BITS,
            outputs=outputs,
            tokens=tokens,
            finish=finish,
        )
