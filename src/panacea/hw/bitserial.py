"""The JSSC 2024 arbitrary-quantization accelerator: bit-serial inner-product units with LUT codebooks.

The engine as we model it (the abstract gives its features, not its microarchitecture):

- ``rows x cols`` inner-product units (IPUs), output-stationary: a fold maps ``rows`` tokens x
  ``cols`` output channels (of one group) onto them and walks K in chunks of ``lanes``.
- Bit-serial with unequal precisions (:mod:`panacea.aq.arith`): the operand whose codebook needs
  fewer steps is serial; every multiplication takes ``steps`` cycles (the most 1-bits of a level's
  magnitude: the LUT hands the engine only the 1-bits), the other operand's width costs nothing.
  A chunk takes ``steps`` cycles, a fold ``ceil(K / lanes) * steps + pipeline``. Lanes run in
  lockstep: a zero code (eliminated by the ZE) gates its lane's adder (energy), it saves no cycle.
- Per cycle, each IPU's adder tree adds its lanes' terms (the parallel level shifted by the serial
  level's current 1-bit, priced as one 16-bit add per active lane) and its accumulator takes the
  tree's sum (one 32-bit accumulate per IPU and step).
- Storage (:mod:`panacea.aq.storage`): both operands sit in DRAM and SRAM in the per-block format
  the density detector chose; their stored bits are the traffic; the ZE decodes every RLE index
  entry each time its operand streams from SRAM (``index_decode``).
- Operand delivery: the parallel operand's 8-bit levels are latched per chunk along one side of
  the array, the serial codes along the other; the two codebooks' LUTs (digits for the serial one,
  levels for the parallel one) are written once per layer (register bits).

:func:`peak` gives the chip's compute-bound throughput and efficiency on a synthetic workload, the
way the published 0.87-5.55 TOPS and 15.1-95.9 TOPS/W are stated (DRAM is off chip).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from panacea.aq.codebook import uniform
from panacea.hw.area import Part
from panacea.hw.cost import Cost
from panacea.hw.mapping import Tiling
from panacea.hw.model import CostModel, Layout
from panacea.hw.schedule import Timeline
from panacea.hw.spec import BitSerialSpec
from panacea.hw.systolic import fold_sizes
from panacea.workload import AQWorkload
from panacea.workload.build import aq_workload

# The abstract's peak at its two precision ends (TOPS, TOPS/W), 1-8 bit at 30 % sparsity, 28 nm.
PUBLISHED = {1: (5.55, 95.9), 8: (0.87, 15.1)}
DIGIT_BITS = 4  # a serial LUT entry per step: a 3-bit shift and a sign
PARALLEL_BITS = 8  # the parallel operand enters as its level on the 8-bit grid


def fold_sums(values: torch.Tensor, size: int) -> torch.Tensor:
    """Sums of ``values`` over consecutive folds of ``size`` (the last may be partial), float64."""
    n = values.numel()
    padded = torch.nn.functional.pad(values.to(torch.float64), (0, math.ceil(n / size) * size - n))
    return padded.reshape(-1, size).sum(1)


class BitSerialModel(CostModel):
    spec: BitSerialSpec
    workload_type = AQWorkload

    def parts(self) -> list[Part]:
        """Per IPU: an adder tree of ``lanes`` 16-bit adders (one shifted term per lane, as the
        energy model prices it) and a 32-bit accumulator; the operand latches along the array's
        sides (``rows + cols`` lanes of 8-bit levels); a zero-eliminating RLE decoder (a small add
        and a compare) per row and column."""
        core = self.spec.core
        ipus, edges = core.rows * core.cols, core.rows + core.cols
        return [
            Part("accumulators", "adder", ipus * core.lanes, 16),
            Part("accumulators", "shifter", ipus * core.lanes, 8),
            Part("accumulators", "adder", ipus, 32),
            Part("registers", "register", ipus, 32),
            Part("registers", "register", edges * core.lanes, 8),
            Part("index_decoding", "adder", edges, 8),
            Part("index_decoding", "comparator", edges, 8),
        ]

    def layout(self, w: AQWorkload, tiling: Tiling) -> Layout:
        core = self.spec.core
        if (w.block, w.run_bits) != (core.block, core.run_bits):
            raise ValueError(
                f"workload {w.name!r} was stored with block={w.block}, run_bits={w.run_bits}; "
                f"the {self.name} spec has core.block={core.block}, core.run_bits={core.run_bits}"
            )
        g = w.groups
        steps = min(w.x_steps, w.w_steps)
        chunks = math.ceil(w.k / core.lanes)
        outputs = fold_sizes(w.m, core.cols).repeat(g)  # [I]: channel folds, group by group
        tokens = fold_sizes(w.n, core.rows)  # [T]
        compute = torch.full((len(outputs), len(tokens)), float(chunks * steps + core.pipeline), dtype=torch.float64)
        weights_serial = w.serial == "weights"
        active = (w.n * w.w_nonzero if weights_serial else w.m * w.x_nonzero) * steps
        outputs_total = g * w.m * w.n
        channel_folds, token_folds = math.ceil(w.m / core.cols), len(tokens)
        x_bits, w_bits = (PARALLEL_BITS, w.w_bits) if weights_serial else (w.x_bits, PARALLEL_BITS)
        serial_cb, parallel_cb = (w.w_bits, w.x_bits) if weights_serial else (w.x_bits, w.w_bits)
        lut_bits = core.cols * 2**serial_cb * steps * DIGIT_BITS + core.rows * 2**parallel_cb * PARALLEL_BITS
        operand_bits = channel_folds * g * w.n * w.k * x_bits + token_folds * g * w.m * w.k * w_bits

        def finish(tl: Timeline, sram: dict[str, float]) -> Cost:
            return self._cost(
                w,
                tl,
                busy={"lane": active},
                units={"lane": core.rows * core.cols * core.lanes},
                ops={
                    "multipliers:add_16": active,
                    "accumulators:accumulate": outputs_total * chunks * steps,
                    "index_decoding:index_decode": token_folds * w.w_entries + channel_folds * w.x_entries,
                    "post_processing:ppu_output": outputs_total,
                    "buffers:register_bits": operand_bits + lut_bits,
                },
                sram_bits=sram,
            )

        return self._stream_layout(
            w,
            compute,
            weight_tile=fold_sums(w.w_row_bits, core.cols).repeat(g) / g,  # a row's bits are spread over its groups
            act_per_group=fold_sums(w.x_row_bits, core.rows) / g,
            outputs=outputs,
            tokens=tokens,
            finish=finish,
        )


@dataclass(frozen=True)
class Peak:
    """Compute-bound throughput and on-chip efficiency at one precision."""

    bits: int
    steps: int
    tops: float
    tops_per_watt: float
    power_mw: float


def synthetic_aq_workload(
    bits: int,
    sparsity: float,
    *,
    n: int,
    k: int,
    m: int,
    block: int,
    run_bits: int,
    seed: int = 0,
    name: str | None = None,
) -> AQWorkload:
    """Uniform ``bits``-bit codes on both operands, nonzero codes drawn uniformly, exactly
    ``round(sparsity * size)`` zeros in each."""
    gen = torch.Generator().manual_seed(seed)
    cb = uniform(bits)

    def codes(rows: int) -> torch.Tensor:
        c = torch.randint(1, 2**bits, (rows * k,), generator=gen, dtype=torch.int64)
        c[torch.randperm(rows * k, generator=gen)[: round(sparsity * rows * k)]] = 0
        return c.reshape(rows, k).to(torch.uint8)

    return aq_workload(codes(n), cb, codes(m), cb, block=block, run_bits=run_bits, name=name or f"uniform {bits}-bit")


def peak(model: BitSerialModel, bits: int, sparsity: float = 0.3, *, seed: int = 0) -> Peak:
    """The design's steady state at ``bits``-bit uniform codes with ``sparsity`` zeros, the way a
    chip's peak is measured (operands already on chip): a GEMM of whole folds (16 x 8 of them,
    K = 64 chunks); time = its compute cycles; energy = the engine's actions, the SRAM reads that
    feed it and write its outputs, and leakage over that time. DRAM and the SRAM writes that refill
    from it are the off-chip interface's, not the chip's."""
    core = model.spec.core
    w = synthetic_aq_workload(
        bits, sparsity, n=16 * core.rows, k=64 * core.lanes, m=8 * core.cols, block=core.block, run_bits=core.run_bits
    )
    cost = model.run(w)
    seconds = cost.cycles_compute / cost.clock_hz
    sram = model.energy.sram
    sizes = {name: kb for name, (kb, _) in model.memories().items()}
    reads = sum(
        bits * sram.read(sizes[key.split(".")[0]]) for key, bits in cost.sram_bits.items() if key.endswith(".read")
    )
    engine = sum(v for k, v in cost.energy_pj.items() if k not in ("dram", "sram", "leakage"))
    joules = (engine + reads) * 1e-12 + model.leakage_mw * 1e-3 * seconds
    ops = 2 * cost.macs
    return Peak(bits, min(w.x_steps, w.w_steps), ops / seconds / 1e12, ops / joules / 1e12, joules / seconds * 1e3)
