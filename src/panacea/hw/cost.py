"""What a design spends on a workload: cycles, traffic, operations and energy, kept apart.

Latency and energy are computed separately from the same action counts: the models fill in the
actions (operations per unit, bits moved per memory) and the cycles; :meth:`Cost.priced` turns the
actions into energy with an :class:`EnergyTable`, component by component.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from panacea.hw.energy import EnergyTable
from panacea.hw.mapping import Mapping

# Energy components, in the order reports show them.
COMPONENTS = (
    "dram",
    "sram",
    "buffers",
    "multipliers",
    "accumulators",
    "compensators",
    "index_decoding",
    "post_processing",
    "leakage",
)


@dataclass(frozen=True)
class Cost:
    """One design on one or more GEMM workloads.

    ``macs``: element multiply-accumulates of the workloads (what throughput is measured in).
    ``cycles_compute``: cycles if memory were free; ``cycles_memory``: cycles if compute were free
    (DRAM bits / bandwidth); ``cycles``: with compute and memory overlapped tile by tile.
    ``busy``: cycle-slots each operator kind worked (utilization = busy / (count x cycles)).
    ``ops``: actions per unit; ``sram_bits``/``buffer_bits``: bits read and written per memory,
    keyed ``"<memory>.read"``/``"<memory>.write"``; ``energy_pj``: per component (:data:`COMPONENTS`).
    ``mapping``: how the design ran the workload (:mod:`panacea.hw.mapping`); ``area_mm2``: the
    design's silicon area per component (:mod:`panacea.hw.area`; empty until priced).
    """

    design: str
    clock_hz: float
    macs: int
    cycles_compute: int
    cycles_memory: int
    cycles: int
    dram_bits_read: int
    dram_bits_written: int
    busy: dict[str, float] = field(default_factory=dict)
    units: dict[str, int] = field(default_factory=dict)  # how many operators of each kind exist
    ops: dict[str, int] = field(default_factory=dict)
    sram_bits: dict[str, int] = field(default_factory=dict)
    buffer_bits: dict[str, int] = field(default_factory=dict)
    energy_pj: dict[str, float] = field(default_factory=dict)
    workloads: int = 1
    mapping: Mapping | None = None  # the mapping of one workload (None for a sum of several)
    area_mm2: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.cycles / self.clock_hz

    @property
    def energy_j(self) -> float:
        return sum(self.energy_pj.values()) * 1e-12

    @property
    def utilization(self) -> dict[str, float]:
        return {k: self.busy[k] / (self.units[k] * self.cycles) if self.cycles else 0.0 for k in self.busy}

    @property
    def tops(self) -> float:
        """Effective throughput: 2 x MACs per second, in TOPS (element operations, not slices)."""
        return 2 * self.macs / self.seconds / 1e12 if self.cycles else 0.0

    @property
    def tops_per_watt(self) -> float:
        return 2 * self.macs / self.energy_j / 1e12 if self.energy_pj else 0.0

    @property
    def total_area_mm2(self) -> float:
        return sum(self.area_mm2.values())

    @property
    def tops_per_mm2(self) -> float:
        return self.tops / self.total_area_mm2 if self.area_mm2 else 0.0

    def __add__(self, other: Cost) -> Cost:
        """Two workloads run one after the other on the same design."""
        if not isinstance(other, Cost):
            return NotImplemented
        if other.design != self.design or other.clock_hz != self.clock_hz:
            raise ValueError(f"cannot add costs of {self.design!r} and {other.design!r}")

        def merged(a: dict, b: dict) -> dict:
            # Keys in first-seen order, not a set's: a set of strings iterates in an order that
            # changes with each process's hash seed, and so would the float sums over the result.
            return {k: a.get(k, 0) + b.get(k, 0) for k in dict.fromkeys([*a, *b])}

        return Cost(
            design=self.design,
            clock_hz=self.clock_hz,
            macs=self.macs + other.macs,
            cycles_compute=self.cycles_compute + other.cycles_compute,
            cycles_memory=self.cycles_memory + other.cycles_memory,
            cycles=self.cycles + other.cycles,
            dram_bits_read=self.dram_bits_read + other.dram_bits_read,
            dram_bits_written=self.dram_bits_written + other.dram_bits_written,
            busy=merged(self.busy, other.busy),
            units=self.units | other.units,
            ops=merged(self.ops, other.ops),
            sram_bits=merged(self.sram_bits, other.sram_bits),
            buffer_bits=merged(self.buffer_bits, other.buffer_bits),
            energy_pj=merged(self.energy_pj, other.energy_pj),
            workloads=self.workloads + other.workloads,
            area_mm2=self.area_mm2,  # one design: the same silicon
        )

    def priced(self, table: EnergyTable, *, memory_kb: dict[str, float], leakage_mw: float) -> Cost:
        """This cost with ``energy_pj`` filled from the actions (the same counts latency used).

        ``ops`` keys are ``"<component>:<action>"`` with ``<action>`` a field of the table's
        ``logic`` section (or ``register_bits``, priced per bit by its ``registers`` section);
        ``memory_kb``: the size of one instance of each memory named in the traffic (which sets its
        energy per bit); ``leakage_mw``: the design's static power.
        """
        energy = dict.fromkeys(COMPONENTS, 0.0)
        energy["dram"] = (self.dram_bits_read + self.dram_bits_written) * table.dram.pj_per_bit
        for component, traffic in (("sram", self.sram_bits), ("buffers", self.buffer_bits)):
            for key, bits in traffic.items():
                mem, direction = key.split(".")
                per_bit = table.sram.read if direction == "read" else table.sram.write
                energy[component] += bits * per_bit(memory_kb[mem])
        for key, count in self.ops.items():
            component, action = key.split(":")
            pj = table.registers.pj_per_bit if action == "register_bits" else getattr(table.logic, action)
            energy[component] += count * pj
        energy["leakage"] = leakage_mw * 1e-3 * self.seconds * 1e12
        return replace(self, energy_pj=energy)
