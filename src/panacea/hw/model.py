"""The cost-model interface shared by every design: a validated spec, an energy table, ``run``.

A model turns a :class:`~panacea.workload.Workload` into the actions it causes (cycles, bits moved
per memory, operations per unit) and prices those actions with the energy table; latency and energy
come from the same counts. ``run`` takes one workload or a list of them (a whole model, run one
after the other) and returns their summed :class:`~panacea.hw.cost.Cost`.

Each design describes how a workload is laid out for a tiling (:meth:`CostModel.layout`: the step
grid of :mod:`panacea.hw.schedule` and the function that turns its timeline into actions) and
which tilings its hardware allows (:meth:`CostModel.tilings`); the mapping search over tilings and
blockings (:mod:`panacea.hw.mapping`) is shared. Candidates are tried in a Python loop (a few tens
per distinct GEMM), each evaluated with tensor operations over the whole grid.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

import torch

from panacea.hw.area import AreaTable, Part, area_mm2, load_area, ppu_parts
from panacea.hw.cost import Cost
from panacea.hw.energy import EnergyTable, load_energy
from panacea.hw.mapping import (
    RECHECK_MARGIN,
    SEARCH_ROWS,
    Mapping,
    MappingMode,
    Objective,
    Tiling,
    check_choice,
    sample_rows,
    score,
    workload_key,
)
from panacea.hw.schedule import Blocking, Grid, Timeline, blockings, fits, fixed_blocking, grid, timeline
from panacea.hw.spec import ArchSpecModel
from panacea.workload import AQWorkload, Workload

KB_BITS = 8 * 1024

Layout = tuple[Grid, Callable[[Timeline], Cost]]


class CostModel(ABC):
    """One accelerator design (``spec``) with an energy table (the shipped 28 nm one by default).

    ``mapping``: ``"search"`` (default: the best mapping per GEMM for ``objective``, module
    :mod:`panacea.hw.mapping`) or ``"fixed"`` (the spec's tile fields, one tile per block);
    ``workload_type``: the workloads it runs (:class:`~panacea.workload.Workload`, or
    :class:`~panacea.workload.AQWorkload` for the arbitrary-quantization design)."""

    workload_type: type = Workload

    def __init__(
        self,
        spec: ArchSpecModel,
        energy: EnergyTable | None = None,
        *,
        mapping: MappingMode = "search",
        objective: Objective = "energy",
    ):
        check_choice(mapping, objective)
        self.spec = spec
        self.energy = load_energy() if energy is None else energy
        self.mapping, self.objective = mapping, objective
        self._choices: dict[tuple, tuple[Tiling, Blocking, float]] = {}  # and the win over fixed
        self._current: tuple[object, dict] = (None, {})  # the workload being costed, and its layouts

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

    def area_mm2(self, table: AreaTable | None = None) -> dict[str, float]:
        """Silicon area per component (:data:`~panacea.hw.area.AREA_COMPONENTS`), mm^2: the
        logic :meth:`parts` and the :meth:`memories` priced by ``table`` (default: 28 nm)."""
        return area_mm2([*self.parts(), *ppu_parts()], self.memories(), load_area() if table is None else table)

    # -- what each design provides ------------------------------------------------------------

    @abstractmethod
    def parts(self) -> list[Part]:
        """The logic the spec instantiates (its memories are :meth:`memories`; the PPU, the same
        in every design, is added by :meth:`area_mm2`)."""

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

    # -- mapping ---------------------------------------------------------------------------------

    def actions(self, w) -> Cost:
        """Cycles, traffic and operations of one workload under its mapping (``energy_pj`` empty).

        A workload whose kind was searched before re-uses that tiling and blocking; if its own
        masks make the tiles overflow a buffer it is searched on its own, and if the blocking no
        longer fits the SRAMs, the tiling's blockings are tried again on its sizes. A re-used choice
        that beat the fixed mapping by less than :data:`RECHECK_MARGIN` where it was searched is
        costed beside the fixed mapping and the better kept: layers of a kind differ little (the
        key rounds densities to 0.1), so a choice well ahead of the fixed mapping on one stays ahead
        on the others, and a close one is never re-used where the fixed mapping is cheaper."""
        if self.mapping == "fixed":
            return self.fixed(w)
        key = workload_key(w)
        if key in self._choices:
            tiling, blocking, margin = self._choices[key]
            try:
                g, finish = self._layout(w, tiling)
            except ValueError:  # this layer's masks overflow the chosen tiles: search it on its own
                return self._search_large(w)
            if not fits(g, blocking, **self.capacities()):
                return self.search(w, list(self.candidates(w, [tiling])))  # its blocking, for its sizes
            chosen = self._finished(finish, self._timeline(g, blocking), tiling)
            if margin > 1 + RECHECK_MARGIN:
                return chosen
            try:
                fixed = self._fixed_of(g, finish) if tiling == self.fixed_tiling() else self.fixed(w)
            except ValueError:  # the spec's own tiles do not fit this workload
                return chosen
            return min(chosen, fixed, key=self.score_of)  # a tie keeps the choice
        best = self._search_large(w)
        try:
            margin = self.score_of(self.fixed(w)) / max(self.score_of(best), 1e-30)
        except ValueError:  # the spec's own tiles do not fit this workload
            margin = math.inf
        self._choices[key] = (best.mapping.tiling, best.mapping.blocking, margin)
        return best

    def score_of(self, cost: Cost) -> float:
        """``cost`` (priced here) in the model's objective: what the search minimises."""
        return score(sum(self.priced(cost).energy_pj.values()), cost.cycles, self.objective)

    def _search_large(self, w) -> Cost:
        """:meth:`search`, with the tilings of a GEMM of more than :data:`SEARCH_ROWS` output
        channels tried on its first ones (a tiling's effect repeats along the output channels):
        the tiling found there and the fixed one are then costed on the whole GEMM, with every
        blocking, and the better kept."""
        tilings = self.tilings(w)
        sample = sample_rows(w, SEARCH_ROWS)
        if sample is None or len(tilings) < 3:
            return self.search(w)
        chosen = self.search(sample).mapping.tiling
        return self.search(w, list(self.candidates(w, [self.fixed_tiling(), chosen])))

    def fixed(self, w) -> Cost:
        """``w`` under the fixed mapping: the spec's tiling, one tile per block, the loop order
        that moves fewer DRAM bits."""
        return self._fixed_of(*self._layout(w, self.fixed_tiling()))

    def _fixed_of(self, g: Grid, finish: Callable[[Timeline], Cost]) -> Cost:
        """The fixed mapping of the spec's tiling laid out as ``g``."""
        tls = [self._timeline(g, b) for b in fixed_blocking(g, **self.capacities())]
        return self._finished(finish, min(tls, key=lambda t: t.dram_read + t.dram_written), self.fixed_tiling())

    def candidates(self, w, tilings: Sequence[Tiling] | None = None) -> Iterator[tuple[Tiling, Layout, list[Blocking]]]:
        """Every tiling (of ``tilings``, default :meth:`tilings`) that fits the hardware with its
        layout and the blockings worth trying (the fixed mapping's among them when its tiling fits)."""
        caps = self.capacities()
        fixed = self.fixed_tiling()
        for tiling in dict.fromkeys(self.tilings(w) if tilings is None else tilings):
            try:
                layout = self._layout(w, tiling)
            except ValueError:
                continue
            extra = fixed_blocking(layout[0], **caps) if tiling == fixed else []
            yield tiling, layout, list(dict.fromkeys([*extra, *blockings(layout[0], **caps)]))

    def search(self, w, space: Sequence[tuple[Tiling, Layout, list[Blocking]]] | None = None) -> Cost:
        """The cheapest mapping of ``w`` for the model's objective over ``space`` (default: every
        candidate); ties keep the earlier one (the fixed mapping comes first)."""
        best, best_score = None, math.inf
        for tiling, (g, finish), options in space if space is not None else self.candidates(w):
            for blocking in options:
                cost = self._finished(finish, self._timeline(g, blocking), tiling)
                s = self.score_of(cost)
                if s < best_score:
                    best, best_score = cost, s
        if best is None:
            self.layout(w, self.fixed_tiling())  # raises why the spec's own tiling does not fit
            raise ValueError(f"{self.name}: no mapping of {w.name!r} fits the hardware")
        return best

    def priced(self, cost: Cost) -> Cost:
        """``cost`` with its energy filled in from this design's energy table and memories."""
        sizes = {name: kb for name, (kb, _) in self.memories().items()}
        return cost.priced(self.energy, memory_kb=sizes, leakage_mw=self.leakage_mw)

    def capacities(self) -> dict[str, float]:
        """The SRAM capacities a blocking must fit (the keyword arguments of :mod:`panacea.hw.schedule`)."""
        mem = self.spec.memory
        return {"wmem_bits": mem.wmem_kb * KB_BITS, "amem_bits": mem.amem_kb * KB_BITS}

    def _layout(self, w, tiling: Tiling) -> Layout:
        """:meth:`layout`, remembered for the workload this model costs now: a search lays some
        tilings out more than once (the fixed one is searched, then costed as the fixed mapping)."""
        memo = self._memo(w)
        if tiling not in memo:
            memo[tiling] = self.layout(w, tiling)
        return memo[tiling]

    def _timeline(self, g: Grid, blocking: Blocking) -> Timeline:
        """:func:`~panacea.hw.schedule.timeline` of a grid of the current workload, remembered with it
        (with the grid, so that no other grid can take its ``id`` while the entry lives)."""
        memo, key = self._memo(None), (id(g), blocking)
        if key not in memo:
            tl = timeline(g, blocking, **self.capacities(), dram_bits_per_cycle=self.spec.memory.dram_bits_per_cycle)
            memo[key] = (g, tl)
        return memo[key][1]

    def _memo(self, w) -> dict:
        """What this model computed for the workload it costs now (``w``; None: the current one)."""
        if w is not None and self._current[0] is not w:
            self._current = (w, {})
        return self._current[1]

    @staticmethod
    def _finished(finish: Callable[[Timeline], Cost], tl: Timeline, tiling: Tiling) -> Cost:
        return replace(finish(tl), mapping=Mapping(tiling, tl.blocking, tl.inner))

    def run(self, workload: Workload | AQWorkload | Sequence[Workload | AQWorkload]) -> Cost:
        """Cost of one workload, or of a list of them run one after the other."""
        kind = self.workload_type
        single = isinstance(workload, (Workload, AQWorkload))
        workloads = [workload] if single else list(workload) if isinstance(workload, Sequence) else []
        if not workloads or not all(isinstance(w, kind) for w in workloads):
            raise TypeError(f"workload must be a {kind.__name__} or a non-empty list of them for {self.name}")
        return self.total([self.priced(self.actions(w)) for w in workloads])

    def total(self, costs: Sequence[Cost]) -> Cost:
        """Workloads' priced costs run one after the other, with this design's area."""
        total = costs[0]
        for c in costs[1:]:
            total = total + c
        return replace(total, area_mm2=self.area_mm2())

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
    points); the same costs as running each model alone."""
    costs: list[list[Cost]] = [[] for _ in models]
    for w in workloads:
        for model, done in zip(models, costs, strict=True):
            done.append(model.priced(model.actions(w)))
    return [model.total(done) for model, done in zip(models, costs, strict=True)]
