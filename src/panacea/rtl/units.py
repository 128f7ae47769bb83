"""The datapath units of a Panacea PEA (Section IV, Fig. 11), in Amaranth.

Every DWO and SWO is an outer-product calculator (OPC) of ``vector x vector`` 4b x 4b
sign-unsigned multipliers: a weight slice-vector (SBR slices, signed 4-bit, DESIGN.md) times an
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

WEIGHT_SLICE = signed(4)  # SBR slices lie in [-8, 7] (panacea.slicing.sbr_slices)
ACT_SLICE = unsigned(4)  # activation slices (panacea.slicing.act_slices)
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


class Compensator(wiring.Component):
    """The CS: ``acc[i] += w[i]`` on each cycle with ``en`` (a weight slice-vector loaded for an
    uncompressed activation vector), ``clear`` starts a new sum (taking ``w`` when ``en`` is
    also set). ``acc_bits``: width of each sum (signed); wide enough for the tile's K."""

    def __init__(self, vector: int = 4, acc_bits: int = 16):
        self.vector, self.acc_bits = vector, acc_bits
        super().__init__(
            {
                "w": In(data.ArrayLayout(WEIGHT_SLICE, vector)),
                "en": In(1),
                "clear": In(1),
                "acc": Out(data.ArrayLayout(signed(acc_bits), vector)),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        acc = Signal.like(self.acc, reset_less=True)
        for i in range(self.vector):
            base = Mux(self.clear, 0, acc[i])
            with m.If(self.en | self.clear):
                m.d.sync += acc[i].eq(Mux(self.en, base + self.w[i], base))
        m.d.comb += self.acc.eq(acc)
        return m


class ShiftAccumulator(wiring.Component):
    """The S-ACC: ``acc[n] += p[n] << shift`` on each cycle with ``en`` (an outer product and the
    significance of its slice pair), ``clear`` starts a new output tile. ``max_shift``: the
    largest shift (7-bit weights x 8-bit activations of DBS type 3: 3 + 6 = 9)."""

    def __init__(self, vector: int = 4, acc_bits: int = 32, max_shift: int = 9):
        self.vector, self.acc_bits, self.max_shift = vector, acc_bits, max_shift
        super().__init__(
            {
                "p": In(data.ArrayLayout(PRODUCT, vector * vector)),
                "shift": In(range(max_shift + 1)),
                "en": In(1),
                "clear": In(1),
                "acc": Out(data.ArrayLayout(signed(acc_bits), vector * vector)),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        acc = Signal.like(self.acc, reset_less=True)
        for n in range(self.vector * self.vector):
            base = Mux(self.clear, 0, acc[n])
            with m.If(self.en | self.clear):
                m.d.sync += acc[n].eq(Mux(self.en, base + (self.p[n] << self.shift), base))
        m.d.comb += self.acc.eq(acc)
        return m
