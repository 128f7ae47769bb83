"""The mapping search of one design (ZigZag's mapper, apart from the architecture and the cost
model): which tiling and blocking each GEMM runs, the choice cached per kind of layer
(:mod:`panacea.hw.mapping` describes mappings, the objectives and the cache's key).

The design says which tilings its hardware allows and how a workload is laid out under one
(:class:`Design`); :class:`~panacea.hw.pricing.Pricing` gives a candidate's latency and energy.
Candidates are tried in a Python loop (a few tens per distinct GEMM), each evaluated with tensor
operations over the whole grid.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from panacea.hw.cost import Cost
from panacea.hw.mapping import (
    RECHECK_MARGIN,
    SEARCH_ROWS,
    MappingMode,
    Objective,
    Tiling,
    check_choice,
    score,
    workload_key,
)
from panacea.hw.pricing import Pricing
from panacea.hw.schedule import Blocking, Grid, Timeline, blockings, fits, fixed_blocking

# A workload's step grid under one tiling and the function that turns a timeline of it into the
# workload's actions (a Cost with energy_pj still empty).
Layout = tuple[Grid, Callable[[Timeline], Cost]]


class Design(Protocol):
    """What the mapper needs of a design: the tilings its hardware allows, a workload's layout
    under one (``ValueError`` if it does not fit) and the SRAM capacities a blocking must fit."""

    @property
    def name(self) -> str: ...

    def fixed_tiling(self) -> Tiling: ...

    def tilings(self, w) -> list[Tiling]: ...

    def layout(self, w, tiling: Tiling) -> Layout: ...

    def capacities(self) -> dict[str, float]: ...


class WorkloadMemo:
    """What was computed for the workload costed last (layouts, timelines, operands, tiles), kept
    with the workload itself, so that no other workload can take its ``id`` while they live."""

    def __init__(self) -> None:
        self._workload: object = None
        self._values: dict = {}

    def of(self, w: object) -> dict:
        """The values of ``w``; empty (and the last workload's dropped) if ``w`` is another one."""
        if self._workload is not w:
            self._workload, self._values = w, {}
        return self._values

    @property
    def current(self) -> dict:
        """The values of the workload costed last."""
        return self._values


class Mapper:
    """The mapping of each GEMM on ``design``: ``"search"`` (the best mapping for ``objective``)
    or ``"fixed"`` (the spec's tiling, one tile per block). ``choices``: the mapping searched per
    kind of layer (:func:`~panacea.hw.mapping.workload_key`) and how far it beat the fixed one."""

    def __init__(self, design: Design, pricing: Pricing, mode: MappingMode = "search", objective: Objective = "energy"):
        check_choice(mode, objective)
        self.design, self.pricing = design, pricing
        self.mode, self.objective = mode, objective
        self.choices: dict[tuple, tuple[Tiling, Blocking, float]] = {}
        self.memo = WorkloadMemo()  # the layouts and timelines of the workload being mapped

    def actions(self, w) -> Cost:
        """Cycles, traffic and operations of one workload under its mapping (``energy_pj`` empty).

        A workload whose kind was searched before re-uses that tiling and blocking
        (:meth:`_reuse`); the first of its kind is searched, and the choice remembered with its
        margin over the fixed mapping."""
        if self.mode == "fixed":
            return self.fixed(w)
        key = workload_key(w)
        if key in self.choices:
            return self._reuse(w, *self.choices[key])
        best = self._search_large(w)
        try:
            margin = self.score_of(self.fixed(w)) / max(self.score_of(best), 1e-30)
        except ValueError:  # the spec's own tiles do not fit this workload
            margin = math.inf
        self.choices[key] = (best.mapping.tiling, best.mapping.blocking, margin)
        return best

    def _reuse(self, w, tiling: Tiling, blocking: Blocking, margin: float) -> Cost:
        """``w`` under a choice made for its kind. If its own masks make the tiles overflow a
        buffer it is searched on its own, and if the blocking no longer fits the SRAMs, the
        tiling's blockings are tried again on its sizes. A choice that beat the fixed mapping by
        less than :data:`~panacea.hw.mapping.RECHECK_MARGIN` where it was searched is costed beside
        the fixed mapping and the better kept: layers of a kind differ little (the key rounds
        densities to 0.1), so a choice well ahead of the fixed mapping on one stays ahead on the
        others, and a close one is never re-used where the fixed mapping is cheaper."""
        try:
            g, finish = self._layout(w, tiling)
        except ValueError:  # this layer's masks overflow the chosen tiles: search it on its own
            return self._search_large(w)
        if not fits(g, blocking, **self.design.capacities()):
            return self.search(w, list(self.candidates(w, [tiling])))  # its blocking, for its sizes
        chosen = self.pricing.mapped(finish, self._timeline(g, blocking), tiling)
        if margin > 1 + RECHECK_MARGIN:
            return chosen
        try:
            fixed = self._fixed_of(g, finish) if tiling == self.design.fixed_tiling() else self.fixed(w)
        except ValueError:  # the spec's own tiles do not fit this workload
            return chosen
        return min(chosen, fixed, key=self.score_of)  # a tie keeps the choice

    def score_of(self, cost: Cost) -> float:
        """``cost`` (priced here) in the objective: what the search minimises."""
        return score(sum(self.pricing.priced(cost).energy_pj.values()), cost.cycles, self.objective)

    def _search_large(self, w) -> Cost:
        """:meth:`search`, with the tilings of a GEMM of more than :data:`~panacea.hw.mapping.SEARCH_ROWS`
        output channels tried on its first ones (a tiling's effect repeats along the output
        channels): the tiling found there and the fixed one are then costed on the whole GEMM, with
        every blocking, and the better kept."""
        tilings = self.design.tilings(w)
        sample = w.first_channels(SEARCH_ROWS)
        if sample is None or len(tilings) < 3:
            return self.search(w)
        chosen = self.search(sample).mapping.tiling
        return self.search(w, list(self.candidates(w, [self.design.fixed_tiling(), chosen])))

    def fixed(self, w) -> Cost:
        """``w`` under the fixed mapping: the spec's tiling, one tile per block, the loop order
        that moves fewer DRAM bits."""
        return self._fixed_of(*self._layout(w, self.design.fixed_tiling()))

    def _fixed_of(self, g: Grid, finish: Callable[[Timeline], Cost]) -> Cost:
        """The fixed mapping of the spec's tiling laid out as ``g``."""
        tls = [self._timeline(g, b) for b in fixed_blocking(g, **self.design.capacities())]
        best = min(tls, key=lambda t: t.dram_read + t.dram_written)
        return self.pricing.mapped(finish, best, self.design.fixed_tiling())

    def candidates(self, w, tilings: Sequence[Tiling] | None = None) -> Iterator[tuple[Tiling, Layout, list[Blocking]]]:
        """Every tiling (of ``tilings``, default the design's) that fits the hardware with its
        layout and the blockings worth trying (the fixed mapping's among them when its tiling fits)."""
        caps = self.design.capacities()
        fixed = self.design.fixed_tiling()
        for tiling in dict.fromkeys(self.design.tilings(w) if tilings is None else tilings):
            try:
                layout = self._layout(w, tiling)
            except ValueError:
                continue
            extra = fixed_blocking(layout[0], **caps) if tiling == fixed else []
            yield tiling, layout, list(dict.fromkeys([*extra, *blockings(layout[0], **caps)]))

    def search(self, w, space: Sequence[tuple[Tiling, Layout, list[Blocking]]] | None = None) -> Cost:
        """The cheapest mapping of ``w`` for the objective over ``space`` (default: every
        candidate); ties keep the earlier one (the fixed mapping comes first)."""
        best, best_score = None, math.inf
        for tiling, (g, finish), options in space if space is not None else self.candidates(w):
            for blocking in options:
                cost = self.pricing.mapped(finish, self._timeline(g, blocking), tiling)
                s = self.score_of(cost)
                if s < best_score:
                    best, best_score = cost, s
        if best is None:
            self.design.layout(w, self.design.fixed_tiling())  # raises why the spec's own tiling does not fit
            raise ValueError(f"{self.design.name}: no mapping of {w.name!r} fits the hardware")
        return best

    def _layout(self, w, tiling: Tiling) -> Layout:
        """The design's layout, remembered for the workload mapped now: a search lays some tilings
        out more than once (the fixed one is searched, then costed as the fixed mapping)."""
        memo = self.memo.of(w)
        if tiling not in memo:
            memo[tiling] = self.design.layout(w, tiling)
        return memo[tiling]

    def _timeline(self, g: Grid, blocking: Blocking) -> Timeline:
        """The timeline of a grid of the workload mapped now, remembered with it (with the grid,
        so that no other grid can take its ``id`` while the entry lives)."""
        memo, key = self.memo.current, (id(g), blocking)
        if key not in memo:
            memo[key] = (g, self.pricing.timeline(g, blocking))
        return memo[key][1]
