"""A design's hardware, apart from how a GEMM is mapped onto it and what that costs (ZigZag's
accelerator): its validated spec, its on-chip memories and their capacities, the logic it
instantiates and their silicon area.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from panacea.hw.area import AreaTable, Part, area_mm2, load_area, ppu_parts
from panacea.hw.spec import ArchSpecModel

KB_BITS = 8 * 1024


class Architecture(ABC):
    """The hardware of one design (``spec``); each design names the logic it instantiates."""

    spec: ArchSpecModel

    def __init__(self, spec: ArchSpecModel):
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

    def memories(self) -> dict[str, tuple[float, int]]:
        """Every on-chip memory: name -> (KB of one instance, instances)."""
        mem = self.spec.memory
        return {"wmem": (mem.wmem_kb, 1), "amem": (mem.amem_kb, 1), "omem": (mem.omem_kb, 1)}

    def capacities(self) -> dict[str, float]:
        """The SRAM capacities a blocking must fit (the keyword arguments of :mod:`panacea.hw.schedule`)."""
        mem = self.spec.memory
        return {"wmem_bits": mem.wmem_kb * KB_BITS, "amem_bits": mem.amem_kb * KB_BITS}

    @abstractmethod
    def parts(self) -> list[Part]:
        """The logic the spec instantiates (its memories are :meth:`memories`; the PPU, the same
        in every design, is added by :meth:`area_mm2`)."""

    def area_mm2(self, table: AreaTable | None = None) -> dict[str, float]:
        """Silicon area per component (:data:`~panacea.hw.area.AREA_COMPONENTS`), mm^2: the
        logic :meth:`parts` and the :meth:`memories` priced by ``table`` (default: 28 nm)."""
        return area_mm2([*self.parts(), *ppu_parts()], self.memories(), load_area() if table is None else table)
