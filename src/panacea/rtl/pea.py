"""One Panacea PEA in Amaranth (Section IV, Fig. 11), counts from the spec: index decoders, a
weight buffer and an activation tile buffer addressed by decoded vector position, the workload
scheduler, ``dwo`` DWOs and ``swo`` SWOs (each an :class:`~panacea.rtl.units.OuterProduct`), the
compensator, the shift-accumulation into the local partial-sum buffer, and the post-processing
step that adds the compensation term.

Load phase (driven from the golden vectors, :mod:`panacea.rtl.vectors`): the RLE index entries of
the weight HO stream go through an :class:`IndexDecoder`, which turns them back into vector
positions and writes each stored vector's data at its position (fillers advance the position and
carry no data); the same for each activation row's HO stream; LO slices are written densely.

Compute phase (``start`` .. ``done``), output-stationary over the tile's activation rows:

- SWO side: per cycle the LL outer products of ``swo`` consecutive positions of one row, a fixed
  shift ``l - 4``;
- DWO side, the workload scheduler: items are the positions ``k`` of one row in order, each with
  its dynamic jobs (HH if both HO vectors are stored, HL if the weight's is, LH if the
  activation's is, in that order); per cycle it hands the next ``dwo`` jobs found in a window of
  ``window`` items to the DWOs (a job cut off by the cycle's end continues the next cycle), with
  each job's shift (HH ``3 + l``, HL ``3 + l - 4``, LH ``l``: SBR and DBS significances). Jobs of two
  rows never share a cycle (each row's sums go to its own partial sums). HH and LH jobs also pass
  their weight slice-vector to the compensator (eq. 6: ``W 1_U``, HO slices shifted by 3);
- both sides add into the partial sums of their row; ``out = psum + (r << l) * (w_rowsum - cs)``.

The cost model's PEA cycles for the same tile (:func:`formula_cycles`) assume the dynamic work of
the whole tile packed perfectly into the DWOs; the scheduler here packs within a window and a row,
so its cycles can only be equal or more: the difference is reported, not hidden.
"""

import math

import torch
from amaranth import Array, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from panacea.rtl.units import ACT_SLICE, WEIGHT_SLICE, Compensator, OuterProduct, ShiftAccumulator, SliceMultiplier

PSUM = signed(32)


class IndexDecoder(wiring.Component):
    """RLE index entries -> vector positions (section III-B): on ``valid``, an ``entry`` equal to
    the filler ``2^b - 1`` skips that many positions; any other entry ``e`` places the next stored
    vector at ``position + e`` (``write``, ``at``) and moves past it. ``restart`` begins a row."""

    def __init__(self, index_bits: int, length: int):
        self.index_bits, self.length = index_bits, length
        super().__init__(
            {
                "entry": In(unsigned(index_bits)),
                "valid": In(1),
                "restart": In(1),
                "write": Out(1),
                "at": Out(range(length + 2**index_bits)),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        position = Signal(range(self.length + 2**self.index_bits), reset_less=True)
        filler = 2**self.index_bits - 1
        base = Mux(self.restart, 0, position)
        is_filler = self.entry == filler
        m.d.comb += [self.write.eq(self.valid & ~is_filler), self.at.eq(base + self.entry)]
        with m.If(self.valid):
            m.d.sync += position.eq(Mux(is_filler, base + filler, base + self.entry + 1)[: len(position)])
        with m.Elif(self.restart):
            m.d.sync += position.eq(0)
        return m


def formula_cycles(d: int, s: int, c: int, *, dwo: int, swo: int, compensators: int, compensator_saccs: int) -> int:
    """The cost model's cycles of one PEA on one tile and chunk, no DTP (panacea.hw.panacea):
    ``max(ceil(D / dwo), ceil(S / swo), ceil(C / (compensators * compensator_saccs)))``."""
    return max(math.ceil(d / dwo), math.ceil(s / swo), math.ceil(c / (compensators * compensator_saccs)))


class PEA(wiring.Component):
    """One PEA for tiles of one weight vector-row, ``rows`` activation vector-rows and ``kc``
    positions (module docs); ``vector``, ``dwo``, ``swo``, ``index_bits`` as the spec's core,
    ``window``: the items the scheduler looks ahead; ``multiplier``: the 4b x 4b multiplier
    (another one plants a bug for the tests)."""

    def __init__(
        self,
        *,
        vector: int = 4,
        dwo: int = 4,
        swo: int = 8,
        index_bits: int = 4,
        rows: int = 2,
        kc: int = 16,
        window: int = 8,
        multiplier: type[wiring.Component] = SliceMultiplier,
    ):
        if kc % swo:
            raise ValueError(f"kc: must be a multiple of swo={swo}, got {kc}")
        self.vector, self.dwo, self.swo, self.index_bits = vector, dwo, swo, index_bits
        self.rows, self.kc, self.window, self.multiplier = rows, kc, window, multiplier
        v = vector
        w_vec, x_vec = data.ArrayLayout(WEIGHT_SLICE, v), data.ArrayLayout(ACT_SLICE, v)
        super().__init__(
            {
                # the layer's configuration: DBS's HO shift l (4, 5, 6) and r, the zero point's HO slice
                "l": In(range(7)),
                "r": In(unsigned(4)),
                # load: HO index entries through the decoders, with the next stored vector's data
                "w_entry": In(unsigned(index_bits)),
                "w_entry_valid": In(1),
                "w_ho_data": In(w_vec),
                "w_ho_take": Out(1),  # the data word was written: present the next one
                "x_row": In(range(rows)),
                "x_row_restart": In(1),
                "x_entry": In(unsigned(index_bits)),
                "x_entry_valid": In(1),
                "x_ho_data": In(x_vec),
                "x_ho_take": Out(1),
                "lo_k": In(range(kc)),
                "w_lo_we": In(1),
                "w_lo_data": In(w_vec),
                "x_lo_we": In(1),
                "x_lo_data": In(x_vec),
                "w_rowsum": In(data.ArrayLayout(PSUM, v)),
                # compute
                "start": In(1),
                "done": Out(1),
                "psum": Out(data.ArrayLayout(PSUM, rows * v * v)),  # [row][channel][token lane]
                "cs": Out(data.ArrayLayout(PSUM, rows * v)),  # [row][channel]
                "out": Out(data.ArrayLayout(PSUM, rows * v * v)),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        v, kc, rows, w_size = self.vector, self.kc, self.rows, self.window
        w_vec, x_vec = data.ArrayLayout(WEIGHT_SLICE, v), data.ArrayLayout(ACT_SLICE, v)

        # buffers, addressed by decoded vector position
        # (data registers have no reset; the presence bits do: a reset empties the buffers)
        w_ho = Array(Signal(w_vec, name=f"w_ho_{k}", reset_less=True) for k in range(kc))
        w_lo = Array(Signal(w_vec, name=f"w_lo_{k}", reset_less=True) for k in range(kc))
        w_present = Signal(kc)
        x_ho = Array(Signal(x_vec, name=f"x_ho_{i}", reset_less=True) for i in range(rows * kc))
        x_lo = Array(Signal(x_vec, name=f"x_lo_{i}", reset_less=True) for i in range(rows * kc))
        x_present = Array(Signal(kc, name=f"x_present_{t}") for t in range(rows))

        # load phase
        m.submodules.w_idxd = w_idxd = IndexDecoder(self.index_bits, kc)
        m.submodules.x_idxd = x_idxd = IndexDecoder(self.index_bits, kc)
        m.d.comb += [
            w_idxd.entry.eq(self.w_entry),
            w_idxd.valid.eq(self.w_entry_valid),
            x_idxd.entry.eq(self.x_entry),
            x_idxd.valid.eq(self.x_entry_valid),
            x_idxd.restart.eq(self.x_row_restart),
            self.w_ho_take.eq(w_idxd.write),
            self.x_ho_take.eq(x_idxd.write),
        ]
        with m.If(w_idxd.write):
            m.d.sync += [w_ho[w_idxd.at].eq(self.w_ho_data), w_present.bit_select(w_idxd.at, 1).eq(1)]
        with m.If(x_idxd.write):
            m.d.sync += [
                x_ho[self.x_row * kc + x_idxd.at].eq(self.x_ho_data),
                x_present[self.x_row].bit_select(x_idxd.at, 1).eq(1),
            ]
        with m.If(self.w_lo_we):
            m.d.sync += w_lo[self.lo_k].eq(self.w_lo_data)
        with m.If(self.x_lo_we):
            m.d.sync += x_lo[self.x_row * kc + self.lo_k].eq(self.x_lo_data)

        # compute state: the DWO side at (d_row, d_ptr, d_off jobs of item d_ptr done), the SWO side
        # at (s_row, s_ptr)
        d_row, d_ptr, d_off = Signal(range(rows + 1)), Signal(range(kc + w_size + 1)), Signal(2)
        s_row, s_ptr = Signal(range(rows + 1)), Signal(range(kc + self.swo + 1))
        d_active, s_active, started = Signal(), Signal(), Signal()
        m.d.comb += self.done.eq(started & ~d_active & ~s_active)

        # the workload scheduler: candidate jobs (item i, kind) in order, those of item 0 that
        # earlier cycles handed out skipped; a job's rank = present jobs before it
        kinds = ("hh", "hl", "lh")
        ll_shift = Signal(range(3))  # l - 4: DBS's discarded LSBs
        m.d.comb += ll_shift.eq(self.l - 4)
        shift = {"hh": 3 + self.l, "hl": ll_shift + 3, "lh": self.l}
        jobs = []  # (present, k, kind, rank)
        per_item = []
        rank = 0
        for i in range(w_size):
            k = d_ptr + i
            inside = k < kc
            wp = w_present.bit_select(k, 1) & inside
            xp = x_present[d_row].bit_select(k, 1) & inside
            present = {"hh": wp & xp, "hl": wp, "lh": xp}
            before, count = 0, 0
            for kind in kinds:
                q = Signal(name=f"job_{i}_{kind}")
                m.d.comb += q.eq(present[kind] & (before >= d_off) if i == 0 else present[kind])
                before = before + present[kind]
                r = Signal(range(3 * w_size + 1), name=f"rank_{i}_{kind}")
                m.d.comb += r.eq(rank)
                jobs.append((q, k, kind, r))
                rank, count = rank + q, count + q
            per_item.append(count)

        # the DWOs' S-ACC and the compensator take the jobs of the DWO side's row, the SWOs' S-ACC
        # those of the SWO side's row; ``start`` clears them (a new output tile)
        m.submodules.dwo_sacc = dwo_sacc = ShiftAccumulator(v, 32, 9, rows=rows, inputs=self.dwo)
        m.submodules.swo_sacc = swo_sacc = ShiftAccumulator(v, 32, 2, rows=rows, inputs=self.swo)
        m.submodules.cs = cs_unit = Compensator(v, 32, rows=rows, inputs=self.dwo)
        m.d.comb += [
            dwo_sacc.row.eq(d_row), dwo_sacc.en.eq(d_active), dwo_sacc.clear.eq(self.start),
            cs_unit.row.eq(d_row), cs_unit.en.eq(d_active), cs_unit.clear.eq(self.start),
            swo_sacc.row.eq(s_row), swo_sacc.en.eq(s_active), swo_sacc.clear.eq(self.start),
        ]  # fmt: skip
        for slot in range(self.dwo):
            opc = m.submodules[f"dwo_{slot}"] = OuterProduct(v, self.multiplier)
            for q, k, kind, r in jobs:
                with m.If(q & (r == slot)):
                    w_src = w_ho[k] if kind in ("hh", "hl") else w_lo[k]
                    x_src = x_ho[d_row * kc + k] if kind in ("hh", "lh") else x_lo[d_row * kc + k]
                    m.d.comb += [
                        opc.w.eq(w_src), opc.x.eq(x_src),
                        dwo_sacc.shift[slot].eq(shift[kind]), dwo_sacc.valid[slot].eq(1),
                    ]  # fmt: skip
                    if kind in ("hh", "lh"):  # eq. (6): the loaded weight slice goes to the compensator
                        hi = 3 if kind == "hh" else 0
                        m.d.comb += [cs_unit.w[slot][lane].eq(w_src[lane] << hi) for lane in range(v)]
                        m.d.comb += cs_unit.valid[slot].eq(1)
            m.d.comb += dwo_sacc.p[slot].eq(opc.p)
        for o in range(self.swo):
            opc = m.submodules[f"swo_{o}"] = OuterProduct(v, self.multiplier)
            k = s_ptr + o
            m.d.comb += [opc.w.eq(w_lo[k]), opc.x.eq(x_lo[s_row * kc + k])]
            m.d.comb += [swo_sacc.p[o].eq(opc.p), swo_sacc.shift[o].eq(ll_shift), swo_sacc.valid[o].eq(1)]
        psum, cs = Signal.like(self.psum), cs_unit.acc
        m.d.comb += [psum[n].eq(dwo_sacc.acc[n] + swo_sacc.acc[n]) for n in range(rows * v * v)]

        # advance the DWO side: items fully handed out move the pointer, a partly handed-out one
        # keeps it with its count of jobs done
        total = sum(per_item)
        taken = Signal(range(3 * w_size + 1))
        m.d.comb += taken.eq(Mux(total > self.dwo, self.dwo, total))
        cum, cums = 0, []
        for i in range(w_size):
            cum = cum + per_item[i]
            c = Signal(range(3 * w_size + 1), name=f"cum_{i}")
            m.d.comb += c.eq(cum)
            cums.append(c)
        items_done = Signal(range(w_size + 1))
        m.d.comb += items_done.eq(sum(c <= taken for c in cums))
        next_ptr, next_off = Signal.like(d_ptr), Signal(2)
        m.d.comb += [next_ptr.eq(d_ptr + items_done), next_off.eq(0)]
        with m.Switch(items_done):
            for u in range(w_size):
                with m.Case(u):
                    m.d.comb += next_off.eq((d_off if u == 0 else 0) + taken - (cums[u - 1] if u else 0))
        with m.If(self.start):
            m.d.sync += [
                d_row.eq(0),
                d_ptr.eq(0),
                d_off.eq(0),
                d_active.eq(1),
                s_row.eq(0),
                s_ptr.eq(0),
                s_active.eq(1),
                started.eq(1),
            ]
        with m.Else():
            with m.If(d_active):
                with m.If(next_ptr >= kc):
                    m.d.sync += [d_row.eq(d_row + 1), d_ptr.eq(0), d_off.eq(0), d_active.eq(d_row + 1 < rows)]
                with m.Else():
                    m.d.sync += [d_ptr.eq(next_ptr), d_off.eq(next_off)]
            with m.If(s_active):
                with m.If(s_ptr + self.swo >= kc):
                    m.d.sync += [s_row.eq(s_row + 1), s_ptr.eq(0), s_active.eq(s_row + 1 < rows)]
                with m.Else():
                    m.d.sync += s_ptr.eq(s_ptr + self.swo)

        # post-processing: the compensation term (eq. 6) with W 1 from the bias path
        for t in range(rows):
            for i in range(v):
                comp = (self.r << self.l) * (self.w_rowsum[i] - cs[t * v + i])
                for j in range(v):
                    n = t * v * v + i * v + j
                    m.d.comb += self.out[n].eq(psum[n] + comp)
        m.d.comb += [self.psum.eq(psum), self.cs.eq(cs)]
        return m


def tile_work(w_stored: torch.Tensor, x_stored: torch.Tensor) -> tuple[list[int], int, int]:
    """The cost model's work of one tile from its HO vector masks (weight ``[kc]``, activations
    ``[rows, kc]``): dynamic outer products (HH + HL + LH) per activation row, static ones ``S``
    (LL) and compensator weight vectors ``C`` (HH + LH)."""
    wp, xp = w_stored.long()[None, :], x_stored.long()
    return (wp * xp + wp + xp).sum(dim=1).tolist(), xp.numel(), int((wp * xp + xp).sum())


def row_packed_cycles(d_rows: list[int], s: int, *, dwo: int, swo: int) -> int:
    """Cycles when the DWOs' jobs are packed perfectly within each activation row but never two
    rows' jobs in one cycle (what :class:`PEA`'s scheduler does when its window never runs dry):
    ``max(sum_t ceil(D_t / dwo), ceil(S / swo))``."""
    return max(sum(math.ceil(d / dwo) for d in d_rows), math.ceil(s / swo))
