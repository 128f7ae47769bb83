"""What Panacea and Sibia share: PEAs of 4-bit outer-product operators on a tiled GEMM.

Dataflow (Panacea's Fig. 12, output-stationary): the weights are cut into sub-tiles (one per PEA;
``peas`` of them form an m-tile), the activations into tiles broadcast to every PEA from the global
activation buffer. A schedule row is an m-tile (or, under Panacea's DTP, two m-tiles at once); per
activation tile it takes the cycles of its slowest PEA. The design-specific part is only how a PEA
turns its slice work into cycles (:meth:`BitSliceModel.plan`).

Per activation tile, K runs in chunks of ``tile_k``: the PEAs work on one chunk of their
sub-tiles at a time, in step (the chunk's activations are broadcast to all of them), so a chunk
takes the cycles of the slowest PEA and a step the sum over its chunks.

Memory: rows and activation tiles go through the blocking of :mod:`panacea.hw.schedule` with their
stored sizes (DRAM loads into WMEM / AMEM, outputs from OMEM). A PEA whose whole share of a row
(every chunk) fits its WBUF keeps it there while it stays on the row and re-reads it from WBUF for
every activation tile; it reads it from WMEM again whenever it comes back to the row after another
(:func:`_wbuf_fills`). A share that does not fit streams its chunks from WMEM through WBUF for every
activation tile. A chunk that does not fit WBUF is an error in the spec.
Each schedule row reads, per activation tile, the groups of activations its sub-tiles use (AMEM ->
ABUF -> PEAs). Outputs are written once, ``output_bits`` each, after the PPU (OMEM -> DRAM).

Actions priced: element-level 4b x 4b products and their accumulations (shift-and-accumulate, one
per product), compensator additions and multiplications, RLE index entries decoded (each time a
sub-tile enters a WBUF or an activation tile is read for a row), one PPU pass per output, and the
operand registers of every vector outer product (``2 x vector x 4`` bits).
"""

from __future__ import annotations

import itertools
import math
from abc import abstractmethod
from dataclasses import dataclass

import torch

from panacea.core.formats import SLICE_BITS, weight_slice_count
from panacea.hw.architecture import KB_BITS
from panacea.hw.area import Part
from panacea.hw.cost import Cost
from panacea.hw.mapping import Tiling, tiling
from panacea.hw.model import CostModel, Layout
from panacea.hw.schedule import Grid, Timeline
from panacea.hw.spec import BitSliceCore, PanaceaSpec, SibiaSpec
from panacea.hw.tiles import SliceFormat, SliceTiles, block_sum, slice_tiles
from panacea.workload import Workload


@dataclass(frozen=True)
class Plan:
    """How the m-tiles run: ``members[R, I]`` (1 where schedule row ``r`` holds m-tile ``i``),
    ``compute[R, T]`` cycles, operator work (``busy``, operator-cycles) and operator counts.
    Per-chunk cycles ``[., P, T, C]`` become a step's with :func:`step_cycles`."""

    members: torch.Tensor
    compute: torch.Tensor
    busy: dict[str, float]
    units: dict[str, int]


def step_cycles(cycles: torch.Tensor) -> torch.Tensor:
    """``[I, P, T, C]`` cycles per PEA and chunk -> ``[I, T]``: each chunk waits for the slowest PEA."""
    return cycles.amax(1).sum(-1, dtype=torch.float64)


def per_mtile(t: torch.Tensor, peas: int) -> torch.Tensor:
    """``[U, ...]`` sub-tile values -> ``[I, peas, ...]`` (zero-padded to whole m-tiles)."""
    pad = (-t.shape[0]) % peas
    if pad:
        t = torch.cat([t, t.new_zeros((pad, *t.shape[1:]))])
    return t.reshape(-1, peas, *t.shape[1:])


def _wbuf_fills(
    tl: Timeline, row_share: torch.Tensor, row_bits: torch.Tensor, wbuf_bits: float, n_t: int
) -> torch.Tensor:
    """``[R, P]``: how often each PEA reads its share of schedule row ``r`` from WMEM into WBUF.

    A share that does not fit WBUF streams its chunks for every activation tile. One that fits is
    read again each time the PEA comes back to the row after another one: weights outer, once per
    DRAM load of the row if its block's shares all fit WBUF together (else the block's rows take
    turns for every activation tile); activations outer, once per activation block (every block
    passes every row), or per DRAM load of the row if that is more often."""
    row_loads = tl.weight_loaded / row_bits.clamp(min=1.0)  # [R]
    b, fits = tl.blocking.block, row_share <= wbuf_bits
    if tl.weights_outer:
        block_fits = (block_sum(row_share, b) <= wbuf_bits).repeat_interleave(b, 0)[: len(row_share)]
        fits, visits = fits & block_fits, row_loads
    else:
        visits = row_loads.clamp(min=math.ceil(n_t / b))
    return torch.where(fits, visits[:, None], float(n_t))


class BitSliceModel(CostModel):
    spec: PanaceaSpec | SibiaSpec
    scheme: str  # the workloads it runs ("asym" or "sym")

    def memories(self) -> dict[str, tuple[float, int]]:
        core = self.spec.core
        return super().memories() | {
            "wbuf": (core.wbuf_kb, core.peas),
            "abuf": (core.abuf_kb, 1),
            "psum": (core.psum_kb, core.peas),
        }

    @abstractmethod
    def operators_per_pea(self) -> int:
        """Outer-product operators in one PEA."""

    def shifted_operators(self) -> int:
        """Operators per PEA whose products need a variable shift (slice pairs that change)."""
        return self.operators_per_pea()

    def saccs_per_pea(self) -> int:
        """Shift-and-accumulators per PEA (partial-sum sets it produces at a time)."""
        return 1

    def parts(self) -> list[Part]:
        """Per PEA: ``operators x vector^2`` 4b x 4b multipliers; a variable shifter (16 bits, by
        the slice pair's position) per product of the operators whose slice pairs change; per output
        position of the ``vector x vector`` outer product, an adder tree over the operators
        (``operators - 1`` 16-bit adders) and, per shift-and-accumulator, an ``accumulator_bits``
        accumulator; the operators' operand registers (``2 x vector x 4`` bits each) and an index
        decoder (a small add and a compare); one more decoder for the activation stream."""
        core, ops = self.spec.core, self.operators_per_pea()
        positions = core.peas * core.vector**2
        return [
            Part("multipliers", "mult_4x4", positions * ops),
            Part("accumulators", "shifter", positions * self.shifted_operators(), 16),
            Part("accumulators", "adder", positions * (ops - 1), 16),
            Part("accumulators", "adder", positions * self.saccs_per_pea(), core.accumulator_bits),
            Part("registers", "register", core.peas * ops, 2 * core.vector * SLICE_BITS),
            Part("index_decoding", "adder", core.peas + 1, 8),
            Part("index_decoding", "comparator", core.peas + 1, 8),
        ]

    @abstractmethod
    def slice_format(self, w: Workload) -> SliceFormat:
        """How this design reads the workload's operands (:class:`~panacea.hw.tiles.SliceFormat`)."""

    def tiles(self, w: Workload, core: BitSliceCore) -> SliceTiles:
        """The workload's slice work per (sub-tile, tile) for this design, tiled as ``core`` says
        (the operands' per-chunk data kept in the model's memo for the workload's other tile shapes)."""
        return slice_tiles(w, core, self.slice_format(w), self.memo.of(w))

    @abstractmethod
    def x_slices(self, w: Workload) -> int:
        """4-bit slices of an activation in this design's format."""

    @abstractmethod
    def plan(self, t: SliceTiles, core: BitSliceCore) -> Plan:
        """Schedule rows and their cycles per activation tile."""

    @abstractmethod
    def operations(self, w: Workload, t: SliceTiles) -> dict[str, float]:
        """Arithmetic actions (``"component:action"``) of the whole workload."""

    def fixed_tiling(self) -> Tiling:
        core = self.spec.core
        return tiling(sub_tile_rows=core.sub_tile_rows, tile_tokens=core.tile_tokens, tile_k=core.tile_k)

    def _modes(self) -> list[dict]:
        """Core modes the search tries beside the tile extents (Panacea: DTP on and off)."""
        return [{}]

    def tilings(self, w: Workload) -> list[Tiling]:
        """Sub-tiles of one or two weight vectors per PEA; for each, the most tokens whose partial
        sums fit PSUM (at most the layer's tokens) and the largest power-of-two K chunk whose
        dense activations (with an RLE entry per vector) fit ABUF and whose dense weights fit WBUF
        (tiles that do not fill the buffers are dominated: they only re-read more often), with the
        float32-exactness bound of :mod:`panacea.hw.tiles`. :meth:`layout` checks both buffers on
        the stored chunks: a tiling whose chunks overflow one is dropped. With DTP off, a DTP
        design also tries the paired mode's tokens (half its PSUM): the tile of the same design
        without DTP's hardware, whose WMEM blocking can beat the PSUM-filling one's (without it,
        the DTP design spent 6% more DRAM energy than the design without DTP on SmolLM2 per
        tensor), so the larger design never misses the smaller one's mapping.
        Four vectors per PEA (and so a quarter of the tokens) were never the best on 32 (GEMM,
        sparsity) points of both designs and cost 1.04-4.1x the best energy, so they are not tried."""
        self._check_scheme(w)
        core, v = self.spec.core, self.spec.core.vector
        w_bits, x_bits = weight_slice_count(w.w_bits) * SLICE_BITS, self.x_slices(w) * SLICE_BITS
        x_bits += core.index_bits / v  # at most one RLE entry per stored activation vector
        out = [self.fixed_tiling()]
        shares = {2 if mode.get("dtp") else 1 for mode in self._modes()}  # sub-tiles sharing PSUM
        for mode in self._modes():
            pairs = 2 if mode.get("dtp") else 1
            for rows, share in itertools.product((v, 2 * v), sorted(s for s in shares if s >= pairs)):
                tokens = math.floor(core.psum_kb * KB_BITS / (share * rows * core.accumulator_bits)) // v * v
                tokens = min(tokens, math.ceil(w.n / v) * v)
                tile_k = 1 << max(0, (w.k - 1).bit_length())  # no chunk beyond K
                while tile_k > 1 and (
                    tokens * tile_k * x_bits > core.abuf_kb * KB_BITS
                    or pairs * rows * tile_k * w_bits > core.wbuf_kb * KB_BITS
                    or (rows // v) * (tokens // v) * tile_k >= 2**24
                ):
                    tile_k //= 2
                if tokens >= v:
                    out.append(tiling(sub_tile_rows=rows, tile_tokens=tokens, tile_k=tile_k, **mode))
        return list(dict.fromkeys(out))

    def layout(self, w: Workload, tiling: Tiling) -> Layout:
        core, mem = self.spec.core.model_copy(update=dict(tiling)), self.spec.memory
        self._check_scheme(w)
        self._check_vector(w, core.vector, core.index_bits)
        t = self._tiles_of(w, core)
        wbuf_bits = core.wbuf_kb * KB_BITS
        for field, kb, largest, extent in (
            ("wbuf_kb", core.wbuf_kb, float(t.weight_bits.max()), "sub-tile chunk (sub_tile_rows x tile_k)"),
            ("abuf_kb", core.abuf_kb, t.largest_act_chunk, "activation chunk (tile_tokens x tile_k)"),
        ):
            if largest > kb * KB_BITS:
                raise ValueError(
                    f"{self.name}: core.{field}={kb} cannot hold a stored {extent} of {w.name!r} "
                    f"({largest / KB_BITS:.2f} KB): raise {field} or lower tile_k"
                )
        plan = self.plan(t, core)
        members = plan.members
        n_t = t.act_bits.shape[0]
        sub_bits = per_mtile(t.weight_bits.sum(1), core.peas)  # [I, P]
        row_bits = members @ sub_bits.sum(1)  # [R]
        groups = torch.zeros(sub_bits.shape[0] * core.peas, w.groups, dtype=torch.float64)
        groups[torch.arange(len(t.group)), t.group] = 1.0
        row_groups = ((members @ groups.reshape(-1, core.peas, w.groups).amax(1)) > 0).to(torch.float64)
        out_rows = members @ per_mtile(t.rows, core.peas).sum(1)
        layout = Grid(
            compute=plan.compute,
            weight_tile=row_bits,
            weight_need=row_bits[:, None].expand_as(plan.compute),
            act_part=t.act_bits.t().to(torch.float64),  # [G, T]
            fold_groups=row_groups,  # the groups of each tile a row uses
            out_bits=out_rows[:, None] * t.tokens[None, :] * mem.output_bits,
            sub_steps=t.weight_bits.shape[1],
        )
        act_read = float(layout.act_need.sum())
        out_total = float(layout.out_bits.sum())
        row_share = members @ sub_bits  # [R, P]: each PEA's share of a row
        act_entries = float((row_groups @ t.act_entries.t()).sum())
        ops = self.operations(w, t) | {
            "post_processing:ppu_output": float(w.groups * w.m * w.n),
            "buffers:register_bits": 2 * core.vector * SLICE_BITS * float(t.total.sum(dtype=torch.float64)),
        }

        def finish(tl: Timeline) -> Cost:
            sub_reads = members.t() @ _wbuf_fills(tl, row_share, row_bits, wbuf_bits, n_t)  # [I, P]
            wmem_read = float((sub_bits * sub_reads).sum())
            entries = per_mtile(t.weight_entries.sum(1), core.peas) * sub_reads
            return self._cost(
                w,
                tl,
                busy=plan.busy,
                units=plan.units,
                ops=ops | {"index_decoding:index_decode": float(entries.sum()) + act_entries},
                sram_bits={
                    "wmem.write": tl.weight_loads,
                    "wmem.read": wmem_read,
                    "amem.write": tl.act_loads,
                    "amem.read": act_read,
                    "omem.write": out_total,
                    "omem.read": out_total,
                },
                buffer_bits={
                    "wbuf.write": wmem_read,
                    "wbuf.read": float(t.weight_bits.sum()) * n_t,
                    "abuf.write": act_read,
                    "abuf.read": act_read,
                },
            )

        return layout, finish

    def _check_scheme(self, w: Workload) -> None:
        if w.scheme != self.scheme:
            kind = {"asym": "asymmetric", "sym": "symmetric"}[self.scheme]
            raise ValueError(f"{self.name} runs {kind} ({self.scheme!r}) workloads; {w.name!r} is {w.scheme!r}")

    def _tiles_of(self, w: Workload, core: BitSliceCore) -> SliceTiles:
        """:meth:`tiles`, remembered for the workload in the model's memo (DTP on and off share
        them, and so do the models that share the memo: :func:`~panacea.hw.model.run_together`);
        the key holds everything :meth:`tiles` reads besides the workload."""
        key = ("tiles", type(self), core.vector, core.index_bits, core.sub_tile_rows, core.tile_tokens, core.tile_k)
        memo = self.memo.of(w)
        if key not in memo:
            memo[key] = self.tiles(w, core)
        return memo[key]
