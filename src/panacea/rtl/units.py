"""The datapath units of a Panacea PEA (Section IV, Fig. 11), in Amaranth.

Every DWO and SWO is an outer-product calculator (OPC) of ``vector x vector`` 4b x 4b
sign-unsigned multipliers: a weight slice-vector (SBR slices, signed 4-bit, section II-B) times an
activation slice-vector (unsigned 4-bit slices, DBS-aware) gives ``vector**2`` products, signed,
in [-8 * 15, 7 * 15], so 8 bits hold each. The compensator (CS) accumulates the weight slices
loaded for uncompressed activation vectors (eq. 6: ``r W 1_U`` re-uses them). The S-ACC adds an
outer product, shifted by the significance of its slice pair (SBR weight shifts 0/3/6, activation
shifts including DBS's ``lo_bits - 4``), into the output-stationary partial sums.

Registers are ``reset_less`` where the hardware has no reset: accumulators are cleared by a
``clear`` input, as a new output tile starts, not by the reset network.
"""

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

WEIGHT_SLICE = signed(4)  # SBR slices lie in [-8, 7] (panacea.core.slicing.sbr_slices)
ACT_SLICE = unsigned(4)  # activation slices (panacea.core.slicing.act_slices)
PRODUCT = signed(8)  # [-120, 105]


class SliceMultiplier(wiring.Component):
    """One 4b x 4b sign-unsigned multiplier: ``p = w * x``, combinational."""

    w: In(WEIGHT_SLICE)
    x: In(ACT_SLICE)
    p: Out(PRODUCT)

    def elaborate(self, platform) -> Module:
        m = Module()
        m.d.comb += self.p.eq(self.w * self.x)
        return m


class OuterProduct(wiring.Component):
    """The OPC: ``p[i * vector + j] = w[i] * x[j]`` for a weight slice-vector ``w`` (``vector``
    output channels at one k) and an activation slice-vector ``x`` (``vector`` tokens at that k),
    one multiplier per product, combinational."""

    def __init__(self, vector: int = 4, multiplier: type[wiring.Component] = SliceMultiplier):
        if not 1 <= vector <= 16:
            raise ValueError(f"vector: must be in [1, 16], got {vector}")
        self.vector = vector
        self._multiplier = multiplier
        super().__init__(
            {
                "w": In(data.ArrayLayout(WEIGHT_SLICE, vector)),
                "x": In(data.ArrayLayout(ACT_SLICE, vector)),
                "p": Out(data.ArrayLayout(PRODUCT, vector * vector)),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        v = self.vector
        for i in range(v):
            for j in range(v):
                mul = m.submodules[f"mul_{i}_{j}"] = self._multiplier()
                m.d.comb += [mul.w.eq(self.w[i]), mul.x.eq(self.x[j]), self.p[i * v + j].eq(mul.p)]
        return m


CS_SLICE = signed(7)  # a weight slice as the compensator adds it: HO slices shifted by 3, [-64, 56]


def _row_port(rows: int):
    return In(range(max(rows, 2)))


def _accumulate_by_row(unit: wiring.Component, deltas: list) -> Module:
    """The accumulators of ``unit`` (its ``acc``, ``rows`` sets of ``len(deltas)`` lanes, no reset):
    ``clear`` zeroes them, else with ``en`` the set of row ``row`` adds ``deltas``."""
    m = Module()
    lanes = len(deltas)
    acc = Signal.like(unit.acc, reset_less=True)
    for t in range(unit.rows):
        for n, delta in enumerate(deltas):
            with m.If(unit.clear):
                m.d.sync += acc[t * lanes + n].eq(0)
            with m.Elif(unit.en & (unit.row == t)):
                m.d.sync += acc[t * lanes + n].eq(acc[t * lanes + n] + delta)
    m.d.comb += unit.acc.eq(acc)
    return m


class Compensator(wiring.Component):
    """The CS (eq. 6): on each cycle with ``en``, ``acc[row][i] += sum of w[j][i]`` over the
    ``inputs`` with ``valid[j]``: the weight slice-vectors loaded for uncompressed activation
    vectors (HO slices already shifted by 3), summed per activation row of the tile (``rows``).
    ``clear`` zeroes every sum (a new tile). ``acc_bits``: width of each sum (signed)."""

    def __init__(self, vector: int = 4, acc_bits: int = 16, *, rows: int = 1, inputs: int = 1):
        self.vector, self.acc_bits, self.rows, self.inputs = vector, acc_bits, rows, inputs
        super().__init__(
            {
                "w": In(data.ArrayLayout(data.ArrayLayout(CS_SLICE, vector), inputs)),
                "valid": In(inputs),
                "row": _row_port(rows),
                "en": In(1),
                "clear": In(1),
                "acc": Out(data.ArrayLayout(signed(acc_bits), rows * vector)),
            }
        )

    def elaborate(self, platform) -> Module:
        deltas = [
            sum(Mux(self.valid[j], self.w[j][lane], 0) for j in range(self.inputs)) for lane in range(self.vector)
        ]
        return _accumulate_by_row(self, deltas)


class ShiftAccumulator(wiring.Component):
    """The S-ACC: on each cycle with ``en``, ``acc[row][n] += sum of p[j][n] << shift[j]`` over the
    ``inputs`` (outer products of ``vector x vector``) with ``valid[j]``, each shifted by the
    significance of its slice pair; one set of partial sums per activation row of the tile
    (``rows``, the local partial-sum buffer). ``clear`` zeroes them (a new output tile).
    ``max_shift``: the largest shift (7-bit weights x 8-bit activations of DBS type 3: 3 + 6 = 9)."""

    def __init__(self, vector: int = 4, acc_bits: int = 32, max_shift: int = 9, *, rows: int = 1, inputs: int = 1):
        self.vector, self.acc_bits, self.max_shift, self.rows, self.inputs = vector, acc_bits, max_shift, rows, inputs
        super().__init__(
            {
                "p": In(data.ArrayLayout(data.ArrayLayout(PRODUCT, vector * vector), inputs)),
                "shift": In(data.ArrayLayout(range(max_shift + 1), inputs)),
                "valid": In(inputs),
                "row": _row_port(rows),
                "en": In(1),
                "clear": In(1),
                "acc": Out(data.ArrayLayout(signed(acc_bits), rows * vector * vector)),
            }
        )

    def elaborate(self, platform) -> Module:
        deltas = [
            sum(Mux(self.valid[j], self.p[j][n] << self.shift[j], 0) for j in range(self.inputs))
            for n in range(self.vector * self.vector)
        ]
        return _accumulate_by_row(self, deltas)
