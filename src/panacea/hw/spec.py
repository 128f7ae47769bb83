"""Architecture specs as data: one validated TOML file per design.

A spec names the design's ``kind`` (``panacea``, ``sibia``, ``systolic``, ``simd``, ``bitserial``),
its clock and memories, and its core. The shipped specs of the paper's comparison (``specs/*.toml``)
give every design the paper's equal resources (section IV): 3072 4b x 4b multipliers (an 8b x 8b
multiplier counts as four), 256 bits/cycle of DRAM bandwidth and 192 KB of SRAM; ``aq-bitserial``
is the JSSC 2024 arbitrary-quantization chip as its own design (its spec says how it was sized).
Users write their own to explore designs; :func:`load_spec` validates it and names the bad key.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from panacea.core.checks import input_error, invalid_file, parse_toml, shown
from panacea.core.files import read_text
from panacea.core.formats import BIT_SLICE_FORMATS, NumberFormat

BUILTIN_SPECS = ("panacea", "sibia", "sa-ws", "sa-os", "simd", "aq-bitserial")


# Upper bounds far beyond any chip, so that a typo (or 2^64) is refused when the file is read rather
# than overflowing an integer or an allocation when a GEMM is costed.
UNITS = 1 << 16  # operators, PEAs, array rows and columns, lanes
TILE = 1 << 20  # tile extents, tokens and K
KB = float(1 << 20)  # a memory or buffer, in KB (1 GB)
BITS = 128


class _Strict(BaseModel):
    # strict: a TOML value has its type (no "16" for 16, no true for 1); finite numbers only
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class MemorySpec(_Strict):
    """Off-chip bandwidth and the three on-chip SRAMs (weights, activations, outputs)."""

    dram_bits_per_cycle: int = Field(default=256, ge=1, le=UNITS)
    wmem_kb: float = Field(gt=0, le=KB)
    amem_kb: float = Field(gt=0, le=KB)
    omem_kb: float = Field(gt=0, le=KB)
    output_bits: int = Field(default=8, ge=1, le=BITS)  # bits per output written back (dense)

    @property
    def sram_kb(self) -> float:
        return self.wmem_kb + self.amem_kb + self.omem_kb


class BitSliceCore(_Strict):
    """Processing-element arrays (PEAs) of outer-product operators on 4-bit slices.

    Each operator multiplies a ``vector x 1`` weight slice vector by a ``1 x vector`` activation
    slice vector per cycle (``vector^2`` 4b x 4b multipliers). A tile pairs ``peas`` weight
    sub-tiles of ``sub_tile_rows`` output channels (one per PEA) with an activation tile of
    ``tile_tokens`` tokens shared by all PEAs; K runs in chunks of ``tile_k`` (what a WBUF holds).
    """

    peas: int = Field(default=16, ge=1, le=UNITS)
    vector: int = Field(default=4, ge=1, le=64)
    index_bits: int = Field(default=4, ge=1, le=16)
    sub_tile_rows: int = Field(default=4, ge=1, le=TILE)
    tile_tokens: int = Field(default=64, ge=1, le=TILE)
    tile_k: int = Field(default=128, ge=1, le=TILE)  # K chunk a WBUF holds
    wbuf_kb: float = Field(default=1.0, gt=0, le=KB)  # per PEA
    abuf_kb: float = Field(default=16.0, gt=0, le=KB)  # global activation buffer: one K chunk of the tile
    psum_kb: float = Field(default=2.0, gt=0, le=KB)  # per PEA
    accumulator_bits: int = Field(default=32, ge=1, le=BITS)

    @property
    def partial_sums(self) -> int:
        """Sub-tiles whose partial sums a PEA holds at once."""
        return 1

    @model_validator(mode="after")
    def _tiles_fit(self) -> BitSliceCore:
        for key in ("sub_tile_rows", "tile_tokens"):
            if getattr(self, key) % self.vector:
                raise ValueError(f"{key} must be a multiple of vector ({self.vector})")
        if (self.sub_tile_rows // self.vector) * (self.tile_tokens // self.vector) * self.tile_k >= 2**24:
            raise ValueError("sub_tile_rows x tile_tokens x tile_k / vector^2 must stay below 2^24")
        need = self.partial_sums * self.sub_tile_rows * self.tile_tokens * self.accumulator_bits
        if need > self.psum_kb * 8192:
            raise ValueError(
                f"psum_kb={self.psum_kb} cannot hold {self.partial_sums} x sub_tile_rows x tile_tokens "
                f"partial sums of accumulator_bits ({need / 8192:g} KB)"
            )
        return self


class PanaceaCore(BitSliceCore):
    """Panacea's PEA: dynamic (HH, HL, LH) and static (LL) workload operators, compensators."""

    dwo_per_pea: int = Field(default=4, ge=1, le=UNITS)
    swo_per_pea: int = Field(default=8, ge=1, le=UNITS)
    compensators_per_pea: int = Field(default=2, ge=1, le=UNITS)
    compensator_saccs: int = Field(default=4, ge=1, le=UNITS)  # weight vectors each compensator adds per cycle
    dtp: bool = True
    dbs: bool = True  # DBS's shifters at the S-ACC inputs (section III-C); without them only lo_bits = 4 runs

    @property
    def partial_sums(self) -> int:
        return 2 if self.dtp else 1  # DTP: two sub-tiles' partial sums at once (section III-D)

    @model_validator(mode="after")
    def _dtp_compensators(self) -> PanaceaCore:
        if self.dtp and self.compensators_per_pea % 2:
            raise ValueError("dtp needs an even compensators_per_pea (half per sub-tile)")
        return self

    @property
    def multipliers_4b(self) -> int:
        return self.peas * (self.dwo_per_pea + self.swo_per_pea) * self.vector**2


class SibiaCore(BitSliceCore):
    """Sibia's PEA: operators that take any slice pair (no static/dynamic split)."""

    operators_per_pea: int = Field(default=12, ge=1, le=UNITS)

    @property
    def multipliers_4b(self) -> int:
        return self.peas * self.operators_per_pea * self.vector**2


class SystolicCore(_Strict):
    """A ``rows x cols`` array of 8b x 8b MACs, weight- or output-stationary (SCALE-Sim's mapping)."""

    rows: int = Field(ge=1, le=UNITS)
    cols: int = Field(ge=1, le=UNITS)
    dataflow: Literal["ws", "os"]
    accumulator_bits: int = Field(default=32, ge=1, le=BITS)  # partial sums kept in OMEM by a WS array

    @property
    def multipliers_4b(self) -> int:
        return 4 * self.rows * self.cols


class SimdCore(_Strict):
    """``units`` dot-product units of ``lanes`` 8b x 8b MACs each, output-stationary (Keller et al.
    2023 style vector MACs): a unit reduces ``lanes`` products of one output per cycle."""

    units: int = Field(ge=1, le=UNITS)
    lanes: int = Field(ge=1, le=UNITS)
    pipeline: int = Field(default=4, ge=0, le=UNITS)  # adder-tree latency, paid once per step
    tile_tokens: int = Field(default=32, ge=1, le=TILE)  # tokens that reuse a unit's weights in its registers

    @property
    def multipliers_4b(self) -> int:
        return 4 * self.units * self.lanes


class BitSerialCore(_Strict):
    """The arbitrary-quantization accelerator's engine as we model it (:mod:`panacea.hw.bitserial`):
    ``rows x cols`` inner-product units (IPUs), each adding ``lanes`` bit-serial terms per cycle
    through an adder tree into its accumulator; output-stationary (an IPU owns one token x output
    channel). Operands are stored
    in blocks of ``block`` codes, raw or RLE with ``run_bits`` indices."""

    rows: int = Field(ge=1, le=UNITS)  # IPU rows: tokens of a fold
    cols: int = Field(ge=1, le=UNITS)  # IPU columns: output channels of a fold
    lanes: int = Field(ge=1, le=UNITS)  # bit-serial terms per IPU: K positions per cycle
    pipeline: int = Field(default=4, ge=0, le=UNITS)  # adder-tree and accumulator latency, paid once per fold
    block: int = Field(default=64, ge=1, le=UNITS)
    run_bits: int = Field(default=4, ge=1, le=16)

    @property
    def multipliers_4b(self) -> int:
        """Bit-serial lanes (each one adder step per cycle; not a 4b x 4b multiplier)."""
        return self.rows * self.cols * self.lanes


class _Design(_Strict):
    # The number formats (panacea.core.formats) a design of this kind computes on: Panacea's AQS-GEMM
    # takes unsigned activations with a zero point, Sibia's GEMM signed symmetric ones, the dense
    # designs any integer operands (their cost ignores sparsity), the arbitrary-quantization
    # accelerator's chip codebook codes.
    formats: ClassVar[tuple[NumberFormat, ...]]
    dense: ClassVar[bool] = False  # computes every product: runs one scheme, the comparison's main one

    name: str
    technology_nm: int = Field(default=28, ge=1, le=1000)
    clock_mhz: float = Field(default=500.0, gt=0, le=1e5)
    memory: MemorySpec

    @property
    def multipliers_4b(self) -> int:
        return self.core.multipliers_4b


class PanaceaSpec(_Design):
    formats = ("bitslice-asym",)
    kind: Literal["panacea"]
    core: PanaceaCore


class SibiaSpec(_Design):
    formats = ("bitslice-sym",)
    kind: Literal["sibia"]
    core: SibiaCore


class SystolicSpec(_Design):
    formats = BIT_SLICE_FORMATS
    dense = True
    kind: Literal["systolic"]
    core: SystolicCore


class SimdSpec(_Design):
    formats = BIT_SLICE_FORMATS
    dense = True
    kind: Literal["simd"]
    core: SimdCore


class BitSerialSpec(_Design):
    formats = ("arbitrary",)
    kind: Literal["bitserial"]
    core: BitSerialCore


ArchSpecModel = PanaceaSpec | SibiaSpec | SystolicSpec | SimdSpec | BitSerialSpec
_ADAPTER = TypeAdapter(Annotated[ArchSpecModel, Field(discriminator="kind")])


def with_core(spec: ArchSpecModel, **changes) -> ArchSpecModel:
    """``spec`` with some ``core`` keys changed, validated again (``model_copy`` would not)."""
    return _with(spec, "core", changes)


def without_dtp(spec: ArchSpecModel) -> ArchSpecModel:
    """A Panacea ``spec`` without DTP's hardware: "two CSs, two S-ACCs, and the doubled local
    partial-sum buffer" (section III-D) become one of each and half the PSUM, so the same sub-tile
    of ``tile_tokens`` fits. Fig. 15's steps before +DTP run on this design."""
    core = spec.core
    if not core.dtp:
        return spec
    return with_core(
        spec, dtp=False, compensators_per_pea=max(1, core.compensators_per_pea // 2), psum_kb=core.psum_kb / 2
    )


def with_memory(spec: ArchSpecModel, **changes) -> ArchSpecModel:
    """``spec`` with some ``memory`` keys changed, validated again."""
    return _with(spec, "memory", changes)


def _with(spec: ArchSpecModel, section: str, changes: dict) -> ArchSpecModel:
    return spec_with(spec, {f"{section}.{key}": value for key, value in changes.items()})


def spec_with(spec: ArchSpecModel, changes: dict, *, name: str | None = None) -> ArchSpecModel:
    """``spec`` with dotted fields changed (``"core.peas"``, ``"memory.wmem_kb"``, ``"clock_mhz"``)
    and optionally renamed, validated again."""
    data = spec.model_dump()
    for key, value in changes.items():
        section, _, field = key.rpartition(".")
        (data[section] if section else data)[field] = value
    if name is not None:
        data["name"] = name
    return _validated(data, f"{spec.name} with {changes}")


def _validated(data: dict, where: str) -> ArchSpecModel:
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as err:
        # the union's tag (the spec's kind) leads the path of a field's error: it is no key of the file
        raise invalid_file(f"spec {where}", err, tags=("panacea", "sibia", "systolic", "simd", "bitserial")) from err


def load_spec(name_or_path: str | Path) -> ArchSpecModel:
    """A shipped spec by name (:data:`BUILTIN_SPECS`) or a TOML file."""
    if str(name_or_path) in BUILTIN_SPECS:
        text = resources.files("panacea.hw").joinpath("specs").joinpath(f"{name_or_path}.toml").read_text()
        where = f"{name_or_path}.toml"
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise input_error(
                None, f"spec {shown(str(name_or_path))} is neither a shipped design {list(BUILTIN_SPECS)} nor a file"
            )
        text, where = read_text(path, "spec"), str(path)
    return _validated(parse_toml(text, f"spec {where}"), where)
