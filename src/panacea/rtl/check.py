"""Simulation of the units of :mod:`panacea.rtl.units` (Amaranth's simulator) against the integer
arithmetic they must compute. Each function returns the mismatches, as data, so that a test (or a
hardware team) sees which input went wrong; an empty list means every input gave the exact result.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from amaranth.sim import Simulator

from panacea.rtl.units import Compensator, OuterProduct, ShiftAccumulator, SliceMultiplier


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
    """``steps``: per cycle ``{"p": products, "shift": int, "en": bool, "clear": bool}``; the
    sums are compared after every clock edge with ``acc = (0 if clear else acc) + en * (p << shift)``."""
    return _accumulator_mismatches(dut, steps, "p", dut.vector * dut.vector, lambda s, v: v << s["shift"])


def compensator_mismatches(dut: Compensator, steps: Sequence[dict]) -> list[Mismatch]:
    """``steps``: per cycle ``{"w": weight slice-vector, "en": bool, "clear": bool}``."""
    return _accumulator_mismatches(dut, steps, "w", dut.vector, lambda s, v: v)


def _accumulator_mismatches(dut, steps: Sequence[dict], operand: str, lanes: int, term) -> list[Mismatch]:
    bad: list[Mismatch] = []
    bound = 1 << (dut.acc_bits - 1)

    async def testbench(ctx):
        acc = [0] * lanes
        for step, s in enumerate(steps):
            for name, value in s.items():
                ctx.set(getattr(dut, name), value)
            await ctx.tick()
            base = [0] * lanes if s["clear"] else acc
            acc = [b + term(s, v) if s["en"] else b for b, v in zip(base, s[operand], strict=True)]
            # the register wraps as hardware does; a sum past acc_bits is a sizing error, reported
            want = [(a + bound) % (2 * bound) - bound for a in acc]
            got = list(ctx.get(dut.acc))
            if got != want or want != acc:
                bad.append(Mismatch(step, dict(s), got, acc))

    _run(dut, testbench, clocked=True)
    return bad
