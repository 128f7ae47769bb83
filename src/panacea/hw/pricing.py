"""The latency and energy of one mapping (ZigZag's cost model, apart from the architecture and the
mapping search): the timeline of a workload's step grid under a blocking, the design's actions on
it recorded with their mapping, and those actions priced with an energy table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from panacea.hw.cost import Cost
from panacea.hw.energy import EnergyTable
from panacea.hw.mapping import Mapping, Tiling
from panacea.hw.schedule import Blocking, Grid, Timeline, timeline


class Pricing:
    """One design's prices: its energy table, its memories (name -> (KB of one instance,
    instances)), the SRAM capacities a blocking fills and its DRAM bandwidth."""

    def __init__(
        self,
        energy: EnergyTable,
        memories: dict[str, tuple[float, int]],
        capacities: dict[str, float],
        dram_bits_per_cycle: int,
    ):
        self.energy = energy
        self.memories = memories
        self.capacities = capacities
        self.dram_bits_per_cycle = dram_bits_per_cycle

    @property
    def leakage_mw(self) -> float:
        """Static power of the on-chip memories (CACTI leakage by size); logic leakage not modelled."""
        return sum(count * self.energy.sram.leakage(kb) for kb, count in self.memories.values())

    def timeline(self, g: Grid, blocking: Blocking) -> Timeline:
        """Traffic and overlapped cycles of the grid ``g`` visited as ``blocking`` says."""
        return timeline(g, blocking, **self.capacities, dram_bits_per_cycle=self.dram_bits_per_cycle)

    @staticmethod
    def mapped(finish: Callable[[Timeline], Cost], tl: Timeline, tiling: Tiling) -> Cost:
        """The actions ``finish`` counts on timeline ``tl`` (``energy_pj`` still empty), with the
        mapping that ran them."""
        return replace(finish(tl), mapping=Mapping(tiling, tl.blocking, tl.inner))

    def priced(self, cost: Cost) -> Cost:
        """``cost`` with its energy filled in from the energy table and the memories' sizes."""
        sizes = {name: kb for name, (kb, _) in self.memories.items()}
        return cost.priced(self.energy, memory_kb=sizes, leakage_mw=self.leakage_mw)
