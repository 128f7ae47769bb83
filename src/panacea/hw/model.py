"""The cost-model interface shared by every design: a validated spec, an energy table, ``run``.

A model turns a :class:`~panacea.workload.Workload` into the actions it causes (cycles, bits moved
per memory, operations per unit) and prices those actions with the energy table; latency and energy
come from the same counts. ``run`` takes one workload or a list of them (a whole model, run one
after the other) and returns their summed :class:`~panacea.hw.cost.Cost`.

As in ZigZag, three parts stay apart: the hardware (:class:`~panacea.hw.architecture.Architecture`:
spec, memories, logic and area), the mapping search (:class:`~panacea.hw.mapper.Mapper`, which the
model holds) and the price of one mapping (:class:`~panacea.hw.pricing.Pricing`). Each design adds
how a workload is laid out for a tiling (:meth:`CostModel.layout`: the step grid of
:mod:`panacea.hw.schedule` and the function that turns its timeline into actions) and which tilings
its hardware allows (:meth:`CostModel.tilings`).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

import torch

from panacea.hw.architecture import KB_BITS, Architecture
from panacea.hw.cost import Cost
from panacea.hw.energy import EnergyTable, load_energy
from panacea.hw.mapper import Layout, Mapper, WorkloadMemo
from panacea.hw.mapping import MappingMode, Objective, Tiling
from panacea.hw.pricing import Pricing
from panacea.hw.schedule import Blocking, Timeline, grid
from panacea.hw.spec import ArchSpecModel
from panacea.workload import AQWorkload, Workload

__all__ = ["KB_BITS", "CostModel", "Layout", "passes", "run_together"]


class CostModel(Architecture):
    """One accelerator design (``spec``) with an energy table (the shipped 28 nm one by default).

    ``mapping``: ``"search"`` (default: the best mapping per GEMM for ``objective``, module
    :mod:`panacea.hw.mapping`) or ``"fixed"`` (the spec's tile fields, one tile per block);
    ``workload_type``: the workloads it runs (:class:`~panacea.workload.Workload`, or
    :class:`~panacea.workload.AQWorkload` for the arbitrary-quantization design). ``memo``: where
    the layouts of the workload costed last keep what they share (operands, tiles); models given
    the same memo share them (:func:`run_together`)."""

    workload_type: type = Workload

    def __init__(
        self,
        spec: ArchSpecModel,
        energy: EnergyTable | None = None,
        *,
        mapping: MappingMode = "search",
        objective: Objective = "energy",
        memo: WorkloadMemo | None = None,
    ):
        super().__init__(spec)
        self.energy = load_energy() if energy is None else energy
        self.pricing = Pricing(self.energy, self.memories(), self.capacities(), spec.memory.dram_bits_per_cycle)
        self.mapper = Mapper(self, self.pricing, mapping, objective)
        self.memo = WorkloadMemo() if memo is None else memo

    @property
    def mapping(self) -> MappingMode:
        return self.mapper.mode

    @property
    def objective(self) -> Objective:
        return self.mapper.objective

    @property
    def leakage_mw(self) -> float:
        return self.pricing.leakage_mw

    # -- what each design provides ------------------------------------------------------------

    @abstractmethod
    def layout(self, w, tiling: Tiling) -> Layout:
        """The workload's step grid under ``tiling`` and the function that turns a timeline of it
        into the workload's actions (a :class:`Cost` with ``energy_pj`` still empty). Raises
        ``ValueError`` if the tiling does not fit the hardware."""

    def fixed_tiling(self) -> Tiling:
        """The spec's own tile fields (the ``fixed`` mapping's tiling)."""
        return ()

    def tilings(self, w) -> list[Tiling]:
        """The tilings the search tries (the fixed one first)."""
        return [self.fixed_tiling()]

    def check(self, w) -> None:
        """Raise ``ValueError`` if the design cannot run ``w`` under any mapping."""

    # -- costing ------------------------------------------------------------------------------

    def actions(self, w) -> Cost:
        """Cycles, traffic and operations of one workload under its mapping (``energy_pj`` empty)."""
        self.check(w)
        return self.mapper.actions(w)

    def priced(self, cost: Cost) -> Cost:
        """``cost`` with its energy filled in from this design's energy table and memories."""
        return self.pricing.priced(cost)

    def search(self, w, space: Sequence[tuple[Tiling, Layout, list[Blocking]]] | None = None) -> Cost:
        """:meth:`Mapper.search <panacea.hw.mapper.Mapper.search>` of this design."""
        return self.mapper.search(w, space)

    def candidates(self, w, tilings: Sequence[Tiling] | None = None) -> Iterator[tuple[Tiling, Layout, list[Blocking]]]:
        """:meth:`Mapper.candidates <panacea.hw.mapper.Mapper.candidates>` of this design."""
        return self.mapper.candidates(w, tilings)

    def score_of(self, cost: Cost) -> float:
        """``cost`` (priced here) in the model's objective: what the search minimises."""
        return self.mapper.score_of(cost)

    def run(self, workload: Workload | AQWorkload | Sequence[Workload | AQWorkload]) -> Cost:
        """Cost of one workload, or of a list of them run one after the other."""
        kind = self.workload_type
        workloads = list(workload) if isinstance(workload, Sequence) else [workload]
        if not workloads or not all(isinstance(w, kind) for w in workloads):
            raise TypeError(f"workload must be a {kind.__name__} or a non-empty list of them for {self.name}")
        return self.total([self.priced(self.actions(w)) for w in workloads])

    def total(self, costs: Sequence[Cost]) -> Cost:
        """Workloads' priced costs run one after the other, with this design's area."""
        total = costs[0]
        for c in costs[1:]:
            total = total + c
        return replace(total, area_mm2=self.area_mm2())

    # -- what the designs' layouts share ------------------------------------------------------

    def _stream_layout(
        self,
        w,
        compute: torch.Tensor,
        *,
        weight_tile: torch.Tensor,
        act_per_group: torch.Tensor,
        outputs: torch.Tensor,
        tokens: torch.Tensor,
        finish: Callable[[Timeline, dict[str, float]], Cost],
    ) -> Layout:
        """The grid of steps ``(i, t)`` that each read all of weight tile ``i`` (``outputs[i]``
        channels, one group each, group by group) and their group's part of token tile ``t``
        (``tokens[t]`` tokens), writing their outputs once; ``finish`` gets the timeline and the
        SRAM traffic (WMEM/AMEM written by the DRAM loads, read by every step; OMEM written and
        read once per output bit)."""
        g = w.groups
        out_bits = outputs[:, None] * tokens[None, :] * self.spec.memory.output_bits
        layout = grid(
            compute,
            weight_tile=weight_tile,
            act_per_group=act_per_group,
            tile_group=torch.arange(g).repeat_interleave(len(outputs) // g),
            groups=g,
            out_bits=out_bits,
        )
        out_total = float(out_bits.sum())
        reads = {"wmem.read": float(layout.weight_need.sum()), "amem.read": float(layout.act_need.sum())}

        def done(tl: Timeline) -> Cost:
            sram = {
                "wmem.write": tl.weight_loads,
                "wmem.read": reads["wmem.read"],
                "amem.write": tl.act_loads,
                "amem.read": reads["amem.read"],
                "omem.write": out_total,
                "omem.read": out_total,
            }
            return finish(tl, sram)

        return layout, done

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


def run_together(models: Sequence[CostModel], workloads: Sequence) -> list[Cost]:
    """``model.run(workloads)`` of every model, costed workload by workload across the models, so
    designs that lay a workload out alike share its operands and slice tiles (a design space's
    points: the models share one memo from here on); the same costs as running each model alone."""
    shared = WorkloadMemo()
    for model in models:
        model.memo = shared
    costs: list[list[Cost]] = [[] for _ in models]
    for w in workloads:
        for model, done in zip(models, costs, strict=True):
            done.append(model.priced(model.actions(w)))
    return [model.total(done) for model, done in zip(models, costs, strict=True)]
