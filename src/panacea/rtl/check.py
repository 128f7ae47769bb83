"""Simulation of the units of :mod:`panacea.rtl.units` (Amaranth's simulator) against the integer
arithmetic they must compute. Each function returns the mismatches, as data, so that a test (or a
hardware team) sees which input went wrong; an empty list means every input gave the exact result.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from amaranth.sim import Simulator

from panacea.core.formats import ho_shift
from panacea.rtl.pea import PEA
from panacea.rtl.units import Compensator, OuterProduct, ShiftAccumulator, SliceMultiplier
from panacea.rtl.vectors import X_BITS, TileVectors


@dataclass(frozen=True)
class Mismatch:
    """One input (``step`` of a sequence) whose output differs from the reference."""

    step: int
    inputs: dict
    got: list[int]
    want: list[int]


def _run(dut, testbench, clocked: bool) -> None:
    sim = Simulator(dut)
    if clocked:
        sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()


def multiplier_mismatches(dut: SliceMultiplier | None = None) -> list[Mismatch]:
    """Every one of the 256 (signed 4-bit weight slice, unsigned 4-bit activation slice) pairs."""
    dut = dut or SliceMultiplier()
    bad: list[Mismatch] = []

    async def testbench(ctx):
        for step, (w, x) in enumerate(itertools.product(range(-8, 8), range(16))):
            ctx.set(dut.w, w)
            ctx.set(dut.x, x)
            got = ctx.get(dut.p)
            if got != w * x:
                bad.append(Mismatch(step, {"w": w, "x": x}, [got], [w * x]))

    _run(dut, testbench, clocked=False)
    return bad


def outer_product_mismatches(dut: OuterProduct, pairs: Sequence[tuple[list[int], list[int]]]) -> list[Mismatch]:
    """``pairs`` of (weight slice-vector, activation slice-vector) through the OPC."""
    bad: list[Mismatch] = []

    async def testbench(ctx):
        for step, (w, x) in enumerate(pairs):
            ctx.set(dut.w, list(w))
            ctx.set(dut.x, list(x))
            got = list(ctx.get(dut.p))
            want = [wi * xj for wi in w for xj in x]
            if got != want:
                bad.append(Mismatch(step, {"w": list(w), "x": list(x)}, got, want))

    _run(dut, testbench, clocked=False)
    return bad


def shift_accumulator_mismatches(dut: ShiftAccumulator, steps: Sequence[dict]) -> list[Mismatch]:
    """``steps``: per cycle ``{"p": [products] per input, "shift": [..], "valid": [..], "row": int,
    "en": bool, "clear": bool}``; after every clock edge the sums must be ``0`` after ``clear``,
    else ``acc[row] += sum_j valid[j] * (p[j] << shift[j])`` with ``en``."""

    def delta(s: dict) -> list[int]:
        terms = [[q << sh for q in p] for p, sh, ok in zip(s["p"], s["shift"], s["valid"], strict=True) if ok]
        return [sum(col) for col in zip(*terms, strict=True)] if terms else [0] * dut.vector**2

    return _accumulator_mismatches(dut, steps, dut.vector**2, delta)


def compensator_mismatches(dut: Compensator, steps: Sequence[dict]) -> list[Mismatch]:
    """``steps``: per cycle ``{"w": [weight slice-vector] per input, "valid": [..], "row": int,
    "en": bool, "clear": bool}``; ``acc[row] += sum_j valid[j] * w[j]`` with ``en``."""

    def delta(s: dict) -> list[int]:
        terms = [w for w, ok in zip(s["w"], s["valid"], strict=True) if ok]
        return [sum(col) for col in zip(*terms, strict=True)] if terms else [0] * dut.vector

    return _accumulator_mismatches(dut, steps, dut.vector, delta)


def _accumulator_mismatches(dut, steps: Sequence[dict], lanes: int, delta) -> list[Mismatch]:
    bad: list[Mismatch] = []
    bound = 1 << (dut.acc_bits - 1)

    async def testbench(ctx):
        acc = [[0] * lanes for _ in range(dut.rows)]
        for step, s in enumerate(steps):
            for name, value in s.items():
                if name == "valid":  # one bit per input
                    value = sum(int(ok) << j for j, ok in enumerate(value))
                ctx.set(getattr(dut, name), value)
            await ctx.tick()
            if s["clear"]:
                acc = [[0] * lanes for _ in range(dut.rows)]
            elif s["en"]:
                acc[s["row"]] = [a + d for a, d in zip(acc[s["row"]], delta(s), strict=True)]
            want = [a for row in acc for a in row]
            # the registers wrap as hardware does; a sum past acc_bits is a sizing error, reported
            wrapped = [(a + bound) % (2 * bound) - bound for a in want]
            got = list(ctx.get(dut.acc))
            if got != wrapped or wrapped != want:
                bad.append(Mismatch(step, dict(s), got, want))

    _run(dut, testbench, clocked=True)
    return bad


@dataclass(frozen=True)
class PeaRun:
    """What a simulated PEA produced on one tile: its sums (as :class:`TileVectors` lays them out)
    and the cycles of its compute phase (``start`` to ``done``)."""

    psum: torch.Tensor  # int64 [vector, rows * vector]
    cs: torch.Tensor  # int64 [vector, rows]
    out: torch.Tensor  # int64 [vector, rows * vector]
    cycles: int
    load_cycles: int


async def _feed(ctx, ports, entries: list[int], data: list[list[int]]) -> tuple[int, int]:
    """Present an RLE stream to an index decoder, one entry per cycle, with the stream's next stored
    vector beside each entry (taken when the decoder writes it); returns (vectors taken, cycles)."""
    entry, valid, word, take = ports
    taken = 0
    for e in entries:
        ctx.set(entry, e)
        ctx.set(valid, 1)
        if taken < len(data):
            ctx.set(word, data[taken])
        took = ctx.get(take)
        await ctx.tick()
        taken += took
    ctx.set(valid, 0)
    return taken, len(entries)


def run_pea(tv: TileVectors, *, dwo: int = 4, swo: int = 8, window: int = 8, pea: PEA | None = None) -> PeaRun:
    """Load ``tv``'s streams into a PEA (through its index decoders) and run its compute phase."""
    v, rows, kc = tv.vector, tv.rows, tv.kc
    dut = pea or PEA(vector=v, dwo=dwo, swo=swo, index_bits=tv.index_bits, rows=rows, kc=kc, window=window)
    result = {}

    async def testbench(ctx):
        ctx.set(dut.l, ho_shift(X_BITS, tv.lo_bits))
        ctx.set(dut.r, tv.r)
        ctx.set(dut.w_rowsum, tv.w_rowsum.tolist())
        w_taken, load = await _feed(
            ctx,
            (dut.w_entry, dut.w_entry_valid, dut.w_ho_data, dut.w_ho_take),
            tv.w_ho_index.tolist(),
            tv.w_ho_data.tolist(),
        )
        if w_taken != len(tv.w_ho_data):
            raise AssertionError(f"the weight decoder took {w_taken} data words of {len(tv.w_ho_data)}")
        x_taken, first = 0, 0
        for t in range(rows):
            ctx.set(dut.x_row, t)
            ctx.set(dut.x_row_restart, 1)
            await ctx.tick()
            ctx.set(dut.x_row_restart, 0)
            entries = tv.x_ho_index[first : first + int(tv.x_ho_entries[t])].tolist()
            taken, cycles = await _feed(
                ctx,
                (dut.x_entry, dut.x_entry_valid, dut.x_ho_data, dut.x_ho_take),
                entries,
                tv.x_ho_data[x_taken:].tolist(),
            )
            x_taken, load, first = x_taken + taken, load + cycles, first + len(entries)
            ctx.set(dut.x_lo_we, 1)
            for k in range(kc):
                ctx.set(dut.lo_k, k)
                ctx.set(dut.x_lo_data, tv.x_lo[t, k].tolist())
                if t == 0:
                    ctx.set(dut.w_lo_we, 1)
                    ctx.set(dut.w_lo_data, tv.w_lo[k].tolist())
                await ctx.tick()
            ctx.set(dut.x_lo_we, 0)
            ctx.set(dut.w_lo_we, 0)
        if x_taken != len(tv.x_ho_data):
            raise AssertionError(f"the activation decoder took {x_taken} data words of {len(tv.x_ho_data)}")
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        cycles = 0
        while not ctx.get(dut.done):
            await ctx.tick()
            cycles += 1
            if cycles > 4 * rows * kc + 16:
                raise AssertionError(f"the PEA did not finish within {cycles} cycles")
        psum = torch.tensor(list(ctx.get(dut.psum)), dtype=torch.int64).reshape(rows, v, v)
        out = torch.tensor(list(ctx.get(dut.out)), dtype=torch.int64).reshape(rows, v, v)
        result["psum"] = psum.permute(1, 0, 2).reshape(v, rows * v)
        result["out"] = out.permute(1, 0, 2).reshape(v, rows * v)
        result["cs"] = torch.tensor(list(ctx.get(dut.cs)), dtype=torch.int64).reshape(rows, v).T.contiguous()
        result["cycles"], result["load_cycles"] = cycles, load

    _run(dut, testbench, clocked=True)
    return PeaRun(**result)
