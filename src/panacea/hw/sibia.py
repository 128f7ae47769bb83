"""Sibia (HPCA 2023) as the Panacea paper evaluates it, on the same tiled PEA array.

Symmetric SBR on both operands (``scheme="sym"`` workloads), so there is no compensation; only the
operand with the higher top-slice vector sparsity skips its compressed vectors (the other one's
top slices all take part); ``operators_per_pea`` operators take any slice pair, so a PEA's cycles
per activation tile are ``ceil(total outer products / operators)``. Both operands stay dense in
DRAM and SRAM (the skipped operand's index stream is made on chip and decoded by the PEAs).
"""

from __future__ import annotations

import torch

from panacea.core.formats import weight_slice_count
from panacea.core.slicing import sibia_skip
from panacea.hw.bitslice import BitSliceModel, Plan, per_mtile, step_cycles
from panacea.hw.spec import SibiaCore, SibiaSpec
from panacea.hw.tiles import SliceFormat, SliceTiles
from panacea.workload import Workload


class SibiaModel(BitSliceModel):
    spec: SibiaSpec
    scheme = "sym"

    def x_slices(self, w: Workload) -> int:
        return weight_slice_count(w.x_bits)  # SBR activations

    def operators_per_pea(self) -> int:
        return self.spec.core.operators_per_pea

    def slice_format(self, w: Workload) -> SliceFormat:
        """The sparser operand skips its compressed top-slice vectors; no compensation; dense storage."""
        skip = sibia_skip(w.act_stored, w.weight_stored)
        x_slices = self.x_slices(w)
        return SliceFormat(x_slices, skip == "weights", skip == "activations", compensate=False, compressed=False)

    def plan(self, t: SliceTiles, core: SibiaCore) -> Plan:
        work = per_mtile(t.total, core.peas)
        compute = step_cycles(torch.ceil(work / core.operators_per_pea))
        units = {"operator": core.peas * core.operators_per_pea}
        eye = torch.eye(compute.shape[0], dtype=torch.float64)
        return Plan(eye, compute, {"operator": float(work.sum(dtype=torch.float64))}, units)

    def operations(self, w: Workload, t: SliceTiles) -> dict[str, float]:
        return {"multipliers:mult_4x4": t.lanes.mults, "accumulators:accumulate": t.lanes.mults}
