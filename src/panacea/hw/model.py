"""The cost-model interface shared by every design: a validated spec, an energy table, ``run``.

A model turns a :class:`~panacea.workload.Workload` into the actions it causes (cycles, bits moved
per memory, operations per unit) and prices those actions with the energy table; latency and energy
come from the same counts. ``run`` takes one workload or a list of them (a whole model, run one
after the other) and returns their summed :class:`~panacea.hw.cost.Cost`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch

from panacea.hw.cost import Cost
from panacea.hw.energy import EnergyTable, load_energy
from panacea.hw.schedule import Timeline, run_tiles
from panacea.hw.spec import ArchSpecModel
from panacea.workload import AQWorkload, Workload

KB_BITS = 8 * 1024


class CostModel(ABC):
    """One accelerator design (``spec``) with an energy table (the shipped 28 nm one by default).

    ``workload_type``: the workloads it runs (:class:`~panacea.workload.Workload`, or
    :class:`~panacea.workload.AQWorkload` for the arbitrary-quantization design)."""

    workload_type: type = Workload

    def __init__(self, spec: ArchSpecModel, energy: EnergyTable | None = None):
        self.spec = spec
        self.energy = load_energy() if energy is None else energy

    @property
    def name(self) -> str:
        return self.spec.name

    def memories(self) -> dict[str, tuple[float, int]]:
        """Every on-chip memory: name -> (KB of one instance, instances)."""
        mem = self.spec.memory
        return {"wmem": (mem.wmem_kb, 1), "amem": (mem.amem_kb, 1), "omem": (mem.omem_kb, 1)}

    @property
    def leakage_mw(self) -> float:
        """Static power of the on-chip memories (CACTI leakage by size); logic leakage not modelled."""
        return sum(count * self.energy.sram.leakage(kb) for kb, count in self.memories().values())

    @abstractmethod
    def actions(self, w: Workload) -> Cost:
        """Cycles, traffic and operations of one workload (``energy_pj`` still empty)."""

    def run(self, workload: Workload | AQWorkload | Sequence[Workload | AQWorkload]) -> Cost:
        """Cost of one workload, or of a list of them run one after the other."""
        kind = self.workload_type
        single = isinstance(workload, (Workload, AQWorkload))
        workloads = [workload] if single else list(workload) if isinstance(workload, Sequence) else []
        if not workloads or not all(isinstance(w, kind) for w in workloads):
            raise TypeError(f"workload must be a {kind.__name__} or a non-empty list of them for {self.name}")
        sizes = {name: kb for name, (kb, _) in self.memories().items()}
        costs = [self.actions(w).priced(self.energy, memory_kb=sizes, leakage_mw=self.leakage_mw) for w in workloads]
        total = costs[0]
        for c in costs[1:]:
            total = total + c
        return total

    def _schedule(self, compute: torch.Tensor, **tiles) -> Timeline:
        """:func:`~panacea.hw.schedule.run_tiles` with this design's WMEM, AMEM and DRAM bandwidth."""
        mem = self.spec.memory
        return run_tiles(
            compute,
            wmem_bits=mem.wmem_kb * KB_BITS,
            amem_bits=mem.amem_kb * KB_BITS,
            dram_bits_per_cycle=mem.dram_bits_per_cycle,
            **tiles,
        )

    def _stream_tiles(
        self,
        compute: torch.Tensor,
        *,
        weight_tile: torch.Tensor,
        act_per_group: torch.Tensor,
        groups: int,
        outputs: torch.Tensor,
        tokens: torch.Tensor,
    ) -> tuple[Timeline, dict[str, float]]:
        """Schedule steps ``(i, t)`` that each read all of weight tile ``i`` (``outputs[i]`` channels)
        and their group's part of token tile ``t`` (``tokens[t]`` tokens), writing their outputs
        once; returns the timeline and the SRAM traffic (WMEM/AMEM written by the DRAM loads, read by
        every step; OMEM written and read once per output bit)."""
        weight_need = weight_tile[:, None].expand_as(compute)
        act_need = act_per_group[None, :].expand_as(compute)
        out_bits = outputs[:, None] * tokens[None, :] * self.spec.memory.output_bits
        tl = self._schedule(
            compute,
            weight_need=weight_need,
            weight_tile_bits=weight_tile,
            act_need=act_need,
            act_tile_bits=act_per_group * groups,
            out_bits=out_bits,
        )
        out_total = float(out_bits.sum())
        sram = {
            "wmem.write": tl.weight_loads,
            "wmem.read": float(weight_need.sum()),
            "amem.write": tl.act_loads,
            "amem.read": float(act_need.sum()),
            "omem.write": out_total,
            "omem.read": out_total,
        }
        return tl, sram

    def _check_vector(self, w: Workload, vector: int, index_bits: int) -> None:
        if w.vector != vector or w.index_bits != index_bits:
            raise ValueError(
                f"workload {w.name!r} was captured with vector={w.vector}, index_bits={w.index_bits}; "
                f"the {self.name} spec has core.vector={vector}, core.index_bits={index_bits}"
            )

    def _cost(
        self,
        w: Workload | AQWorkload,
        tl: Timeline,
        *,
        busy: dict[str, float],
        units: dict[str, int],
        ops: dict[str, float],
        sram_bits: dict[str, float],
        buffer_bits: dict[str, float] | None = None,
    ) -> Cost:
        as_int = lambda d: {k: round(float(v)) for k, v in d.items()}  # noqa: E731
        return Cost(
            design=self.name,
            clock_hz=self.spec.clock_mhz * 1e6,
            macs=w.macs,
            cycles_compute=tl.cycles_compute,
            cycles_memory=tl.cycles_memory,
            cycles=tl.cycles,
            dram_bits_read=tl.dram_read,
            dram_bits_written=tl.dram_written,
            busy={k: float(v) for k, v in busy.items()},
            units=units,
            ops=as_int(ops),
            sram_bits=as_int(sram_bits),
            buffer_bits=as_int(buffer_bits or {}),
        )


def passes(bits: int, width: int = 8) -> int:
    """Passes of a ``width``-bit datapath over a ``bits``-bit operand (a 12-bit operand takes 2)."""
    return math.ceil(bits / width)
