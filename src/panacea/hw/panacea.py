"""Panacea's AQS-GEMM core (section III-D): DWOs, SWOs, compensators and double-tile processing.

Per PEA, activation tile and K chunk, the workload scheduler gives the dynamic work (HH, HL, LH
outer products of the real vector masks) to the ``dwo_per_pea`` DWOs and the static LL work to the
``swo_per_pea`` SWOs; the compensators add ``HH + LH`` weight vectors, ``compensator_saccs`` per
cycle each (none when ``r = 0``). The PEA takes the cycles of its slowest group:

    cycles = max(ceil(D / n_dwo), ceil(S / n_swo), ceil(C / (n_cs * saccs)))

Double-tile processing: consecutive m-tiles ``2j`` and ``2j + 1`` run together, each PEA holding
one sub-tile of each, when the enable condition of the paper holds: both m-tiles' (compressed)
weights fit WMEM and every PEA's two sub-tile chunks fit its WBUF. The PEA then does ``D = D_a + D_b``
and ``S = S_a + S_b`` with the DWOs free to take ``x <= S_b`` of the second sub-tile's LL work,
``x`` chosen to balance the two groups; each sub-tile gets half the compensators:

    cycles = min_x max(ceil((D + x) / n_dwo), ceil((S - x) / n_swo), ceil(max(C_a, C_b) / (n_cs / 2 * saccs)))

and the pair reads each activation tile once for both m-tiles. ZPM and DBS act on the workload
(its zero point, ``lo_bits`` and masks): to measure them, cost workloads captured with and without
them; DTP is the spec's ``core.dtp``.
"""

from __future__ import annotations

import torch

from panacea.core.formats import SLICE_BITS, act_slice_count, compensates
from panacea.hw.architecture import KB_BITS
from panacea.hw.area import Part
from panacea.hw.bitslice import BitSliceModel, Plan, per_mtile, step_cycles
from panacea.hw.mapping import Tiling
from panacea.hw.spec import PanaceaCore, PanaceaSpec
from panacea.hw.tiles import SliceFormat, SliceTiles
from panacea.workload import Workload


class PanaceaModel(BitSliceModel):
    spec: PanaceaSpec
    scheme = "asym"

    def x_slices(self, w: Workload) -> int:
        return act_slice_count(w.x_bits)

    def operators_per_pea(self) -> int:
        return self.spec.core.dwo_per_pea + self.spec.core.swo_per_pea

    def shifted_operators(self) -> int:
        return self.spec.core.dwo_per_pea  # SWOs compute LL only: a fixed shift, wiring

    def saccs_per_pea(self) -> int:
        return self.spec.core.compensators_per_pea  # DTP: two CSs and two S-ACCs (section III-D)

    def check(self, w: Workload) -> None:
        if not self.spec.core.dbs and w.lo_bits != SLICE_BITS:
            raise ValueError(
                f"{self.name} has no DBS shifters (core.dbs = false): it runs lo_bits = {SLICE_BITS} only, "
                f"not {w.lo_bits} ({w.name})"
            )

    def parts(self) -> list[Part]:
        """The bit-slice PEAs' parts and, per PEA, its compensators (section III-D; DTP's second
        one is ``compensators_per_pea = 2``): each adds ``compensator_saccs`` weight vectors of
        16-bit sums per cycle and multiplies a vector of sums by ``r`` (16b x 4b, priced like an
        8b x 8b multiplier, as in the energy table). With DBS (``core.dbs``), a 16-bit shifter per
        S-ACC and output position moves the AQS-GEMM outputs by the layer's ``lo_bits - 4``
        ("properly shifting the outputs of AQS-GEMM", section III-C)."""
        core = self.spec.core
        units = core.peas * core.compensators_per_pea
        dbs = [Part("accumulators", "shifter", core.peas * self.saccs_per_pea() * core.vector**2, 16)]
        return [
            *super().parts(),
            *(dbs if core.dbs else []),
            Part("compensators", "adder", units * core.compensator_saccs * core.vector, 16),
            Part("compensators", "mult_8x8", units * core.vector),
        ]

    def fixed_tiling(self) -> Tiling:
        return (*super().fixed_tiling(), ("dtp", self.spec.core.dtp))

    def _modes(self) -> list[dict]:
        return [{"dtp": True}, {"dtp": False}] if self.spec.core.dtp else [{"dtp": False}]

    def slice_format(self, w: Workload) -> SliceFormat:
        """Both operands skip their compressed top-slice vectors and are stored RLE-compressed;
        the compensator runs when the zero point needs it (``r != 0``)."""
        compensate = compensates(w.zero_point, w.x_bits, w.lo_bits)
        return SliceFormat(self.x_slices(w), w_skip=True, x_skip=True, compensate=compensate, compressed=True)

    def plan(self, t: SliceTiles, core: PanaceaCore) -> Plan:
        nd, ns = core.dwo_per_pea, core.swo_per_pea
        rate = core.compensators_per_pea * core.compensator_saccs
        d, s, c = (per_mtile(x, core.peas) for x in (t.dynamic, t.ll, t.compensate))  # [I, P, T, C]
        single = torch.maximum(torch.ceil(d / nd), torch.ceil(s / ns))
        single = step_cycles(torch.maximum(single, torch.ceil(c / rate)))  # [I, T]
        n_i = single.shape[0]
        units = {"dwo": core.peas * nd, "swo": core.peas * ns, "compensator": core.peas * core.compensators_per_pea}
        total = lambda x: float(x.sum(dtype=torch.float64))  # noqa: E731
        busy = {"dwo": total(d), "swo": total(s), "compensator": total(c) / core.compensator_saccs}
        eye = torch.eye(n_i, dtype=torch.float64)
        if not core.dtp or n_i < 2:
            return Plan(eye, single, busy, units)

        a, b = slice(0, n_i - n_i % 2, 2), slice(1, n_i, 2)
        chunk_bits = per_mtile(t.weight_bits, core.peas)  # [I, P, C]
        pair_bits = chunk_bits[a] + chunk_bits[b]
        enabled = (pair_bits <= core.wbuf_kb * KB_BITS).flatten(1).all(1) & (
            pair_bits.flatten(1).sum(1) <= self.spec.memory.wmem_kb * KB_BITS
        )
        dp, sp = d[a] + d[b], s[a] + s[b]
        x0 = (sp * nd - dp * ns) / (nd + ns)  # the real x that balances DWOs and SWOs

        def cycles(x: torch.Tensor) -> torch.Tensor:
            return torch.maximum(torch.ceil((dp + x) / nd), torch.ceil((sp - x) / ns))

        lo = torch.minimum(torch.floor(x0).clamp(min=0), s[b])
        hi = torch.minimum(torch.ceil(x0).clamp(min=0), s[b])
        use_hi = cycles(hi) < cycles(lo)
        moved = torch.where(use_hi, hi, lo)
        pair = step_cycles(torch.maximum(cycles(moved), torch.ceil(torch.maximum(c[a], c[b]) / (rate / 2))))

        j = torch.arange(pair.shape[0])
        pair_members = torch.zeros(pair.shape[0], n_i, dtype=torch.float64)
        pair_members[j, 2 * j] = 1.0
        pair_members[j, 2 * j + 1] = 1.0
        paired = pair_members[enabled].sum(0) > 0
        shifted = total(moved * enabled[:, None, None, None])
        busy["dwo"] += shifted
        busy["swo"] -= shifted
        members = torch.cat([pair_members[enabled], eye[~paired]])
        compute = torch.cat([pair[enabled], single[~paired]])
        return Plan(members, compute, busy, units)

    def operations(self, w: Workload, t: SliceTiles) -> dict[str, float]:
        lanes = t.lanes
        comp_mults = w.groups * w.m * w.n if compensates(w.zero_point, w.x_bits, w.lo_bits) else 0
        return {
            "multipliers:mult_4x4": lanes.mults,
            "accumulators:accumulate": lanes.mults + comp_mults,  # one per product, one per output
            "compensators:add_16": lanes.compensation_adds,
            "compensators:compensator_mult": comp_mults,
        }
