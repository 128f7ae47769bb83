"""``panacea rtl``: golden vectors, simulation of the PEA against aqs_gemm and the cost model,
synthesis and Verilog export (:mod:`panacea.rtl`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from panacea.core.files import atomic_write
from panacea.hw.spec import PanaceaCore, PanaceaSpec

if TYPE_CHECKING:
    from panacea.report.rtl import TileCheck
    from panacea.rtl.vectors import TileVectors

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)

_SPEC = typer.Option("panacea", help="Panacea spec (name or TOML): DWOs, SWOs, compensators, vector, index bits.")
_MODEL = typer.Argument(..., help="Model (built-in name, local directory or hub id).")
_LAYER = typer.Option(..., help="The quantized GEMM, e.g. model.layers.3.self_attn.q_proj.")
_ROWS = typer.Option(None, min=1, help="Activation vector-rows per tile (default: the spec's tile).")
_KC = typer.Option(None, min=1, help="K positions per tile (default: the spec's tile_k).")
_K0 = typer.Option(0, min=0, help="First K position.")
_TOKENS = typer.Option(512, min=1, max=512, help="Calibration tokens (one window).")
_TILES = typer.Option(
    "0:0", help="Tiles as 'weight-vector-row:activation-vector-row' pairs, comma separated (e.g. 0:0,3:2)."
)


def core_of(spec: str) -> PanaceaCore:
    """The PEA's counts: the core of the Panacea spec ``spec`` (name or TOML)."""
    import panacea.hw as hw

    model = hw.load(spec, mapping="fixed")
    if not isinstance(model.spec, PanaceaSpec):
        raise typer.BadParameter(f"{spec!r} is not a Panacea spec (its core has no DWOs)", param_hint="--spec")
    return model.spec.core


def _tiles(text: str) -> list[tuple[int, int]]:
    try:
        pairs = [tuple(int(v) for v in item.split(":")) for item in text.split(",") if item.strip()]
    except ValueError:
        pairs = []
    if not pairs or any(len(p) != 2 or min(p) < 0 for p in pairs):
        raise typer.BadParameter(
            f"expected pairs like 0:0,3:2 of non-negative integers, got {text!r}", param_hint="--tiles"
        )
    return pairs  # type: ignore[return-value]


def _tile_set(
    model: str, layer: str, tiles: str, core: PanaceaCore, rows: int | None, kc: int | None, k0: int, tokens: int
):
    from panacea.flows.operands import layer_operands
    from panacea.rtl.vectors import tile_vectors

    pairs = _tiles(tiles)
    try:
        op = layer_operands(model, layer, tokens=tokens)
    except ValueError as err:
        raise typer.BadParameter(str(err).removeprefix("layer: "), param_hint="--layer") from err
    out = []
    for m_row, n_row in pairs:
        try:
            tv = tile_vectors(
                op.x_q,
                op.w_q,
                op.zero_point,
                lo_bits=op.lo_bits,
                vector=core.vector,
                index_bits=core.index_bits,
                m_row=m_row,
                n_row=n_row,
                rows=rows or core.tile_tokens // core.vector,
                k0=k0,
                kc=kc or core.tile_k,
            )
        except ValueError as err:
            raise typer.BadParameter(str(err), param_hint="--tiles / --rows / --kc / --k0") from err
        out.append((f"{m_row}:{n_row}", tv, op))
    return out


@app.command("vectors")
def vectors(
    model: str = _MODEL,
    layer: str = _LAYER,
    out: Path = typer.Option(..., help="Directory: one sub-directory of hex files and manifest.json per tile."),
    tiles: str = _TILES,
    rows: int = _ROWS,
    kc: int = _KC,
    k0: int = _K0,
    tokens: int = _TOKENS,
    spec: str = _SPEC,
) -> None:
    """Golden vectors of real tiles of one layer ($readmemh files and a manifest).

    Example: panacea rtl vectors smollm2-135m --layer model.layers.3.self_attn.q_proj --out vectors --tiles 0:0,5:1
    """
    from panacea.rtl.vectors import write_vectors

    core = core_of(spec)
    for name, tv, _ in _tile_set(model, layer, tiles, core, rows, kc, k0, tokens):
        m_row, n_row = name.split(":")
        about = {"model": model, "layer": layer, "m_row": int(m_row), "n_row": int(n_row), "k0": k0}
        d = write_vectors(tv, out / f"tile-{m_row}-{n_row}-{k0}", about=about)
        Console().print(
            f"{d}: {tv.rows} x {tv.vector} tokens, {tv.vector} channels, k {k0}..{k0 + tv.kc - 1}, r = {tv.r}"
        )


@app.command("simulate")
def simulate(
    model: str = _MODEL,
    layer: str = _LAYER,
    tiles: str = _TILES,
    rows: int = _ROWS,
    kc: int = _KC,
    k0: int = _K0,
    window: int = typer.Option(8, min=1, max=64, help="Items the workload scheduler looks ahead."),
    tokens: int = _TOKENS,
    spec: str = _SPEC,
) -> None:
    """The PEA's RTL on real tiles: its outputs against aqs_gemm's, its cycles against the cost model's.

    Example: panacea rtl simulate smollm2-135m --layer model.layers.3.self_attn.q_proj --tiles 0:0
    """
    from panacea.report.rtl import simulate_table

    core = core_of(spec)
    tile_set = _tile_set(model, layer, tiles, core, rows, kc, k0, tokens)
    checks = [_check(name, tv, core, window) for name, tv, _ in tile_set]
    Console().print(simulate_table(model, layer, checks))
    if any(check.mismatches > 0 for check in checks):
        raise typer.Exit(1)


def _check(name: str, tv: TileVectors, core: PanaceaCore, window: int) -> TileCheck:
    """Tile ``tv`` on the PEA's RTL: its mismatches against aqs_gemm's outputs, partial sums and
    compensation, and its cycles beside the cost model's."""
    from panacea.report.rtl import TileCheck
    from panacea.rtl.check import run_pea
    from panacea.rtl.pea import formula_cycles, row_packed_cycles, tile_work

    run = run_pea(tv, dwo=core.dwo_per_pea, swo=core.swo_per_pea, window=window)
    mismatches = int((run.out != tv.out).sum() + (run.psum != tv.psum).sum() + (run.cs != tv.cs).sum())
    d_rows, s, c = tile_work(*tv.stored())
    d = sum(d_rows)
    ideal = formula_cycles(
        d,
        s,
        c,
        dwo=core.dwo_per_pea,
        swo=core.swo_per_pea,
        compensators=core.compensators_per_pea,
        compensator_saccs=core.compensator_saccs,
    )
    packed = row_packed_cycles(d_rows, s, dwo=core.dwo_per_pea, swo=core.swo_per_pea)
    return TileCheck(name, tv.r, tv.lo_bits, d, s, c, mismatches, ideal, packed, run.cycles)


@app.command("synth")
def synth(
    spec: str = _SPEC,
    pea_rows: int = typer.Option(2, min=1, help="Activation vector-rows of the synthesized PEA's tile buffer."),
    pea_kc: int = typer.Option(16, min=1, help="K positions of the synthesized PEA's buffers."),
) -> None:
    """Yosys synthesis of each block and of a PEA: cells, gate equivalents, um2 at 28 nm.

    Example: panacea rtl synth
    """
    from panacea.report.rtl import area_per_pea_line, synth_table
    from panacea.rtl.synth import UM2_PER_GE, synthesize

    blocks = _blocks(core_of(spec), pea_rows, pea_kc)
    synthesized = [(label, synthesize(component, top), per_pea) for label, component, top, per_pea in blocks]
    Console().print(synth_table(_yosys_version(), UM2_PER_GE, synthesized))
    Console().print(area_per_pea_line(_model_area_per_pea(spec)))


def _blocks(core: PanaceaCore, pea_rows: int, pea_kc: int) -> list[tuple[str, object, str, int]]:
    """The blocks to synthesize: (label, component, top module, instances per PEA)."""
    from panacea.rtl.pea import PEA, IndexDecoder
    from panacea.rtl.units import Compensator, OuterProduct, ShiftAccumulator, SliceMultiplier

    return [
        ("multiplier (4b x 4b)", SliceMultiplier(), "mul", 1),
        (
            f"OPC ({core.vector}x{core.vector})",
            OuterProduct(core.vector),
            "opc",
            core.dwo_per_pea + core.swo_per_pea,
        ),
        ("index decoder", IndexDecoder(core.index_bits, core.tile_k), "idxd", 2),
        # the PEA's accumulators for one activation row (its partial-sum buffer is the PSUM SRAM)
        (
            f"compensator ({core.dwo_per_pea} inputs, 32 b)",
            Compensator(core.vector, 32, inputs=core.dwo_per_pea),
            "cs",
            1,
        ),
        (
            f"S-ACC of the DWOs ({core.dwo_per_pea} inputs, shift <= 9)",
            ShiftAccumulator(core.vector, 32, 9, inputs=core.dwo_per_pea),
            "sacc_dwo",
            1,
        ),
        (
            f"S-ACC of the SWOs ({core.swo_per_pea} inputs, shift <= 2)",
            ShiftAccumulator(core.vector, 32, 2, inputs=core.swo_per_pea),
            "sacc_swo",
            1,
        ),
        (
            f"PEA (tile buffer {pea_rows}x{pea_kc} in registers)",
            PEA(
                vector=core.vector,
                dwo=core.dwo_per_pea,
                swo=core.swo_per_pea,
                index_bits=core.index_bits,
                rows=pea_rows,
                kc=pea_kc,
            ),
            "pea",
            1,
        ),
    ]


def _model_area_per_pea(spec: str) -> dict[str, float]:
    """The cost model's area of ``spec`` per PEA (um2), by component."""
    import panacea.hw as hw
    from panacea.hw.area import load_area

    model, area = hw.load(spec), load_area()
    peas = model.spec.core.peas
    by: dict[str, float] = {}
    for part in model.parts():
        by[part.component] = by.get(part.component, 0.0) + part.count * area.part_um2(part.kind, part.bits) / peas
    return by


@app.command("verilog")
def verilog_export(
    out: Path = typer.Option(..., help="Verilog file to write."),
    block: str = typer.Option("pea", help="pea, opc, multiplier, compensator, sacc or idxd."),
    rows: int = typer.Option(None, min=1, help="PEA: activation vector-rows of its tile (default: the spec's)."),
    kc: int = typer.Option(None, min=1, help="PEA: K positions of its tile (default: the spec's tile_k)."),
    spec: str = _SPEC,
) -> None:
    """The design as Verilog, for other flows.

    Example: panacea rtl verilog --block opc --out opc.v
    """
    from panacea.rtl.pea import PEA, IndexDecoder
    from panacea.rtl.synth import verilog
    from panacea.rtl.units import Compensator, OuterProduct, ShiftAccumulator, SliceMultiplier

    core = core_of(spec)
    makers = {
        "pea": lambda: PEA(
            vector=core.vector,
            dwo=core.dwo_per_pea,
            swo=core.swo_per_pea,
            index_bits=core.index_bits,
            rows=rows or core.tile_tokens // core.vector,
            kc=kc or core.tile_k,
        ),
        "opc": lambda: OuterProduct(core.vector),
        "multiplier": SliceMultiplier,
        "compensator": lambda: Compensator(core.vector, 32, inputs=core.dwo_per_pea),
        "sacc": lambda: ShiftAccumulator(core.vector, 32, 9, inputs=core.dwo_per_pea),
        "idxd": lambda: IndexDecoder(core.index_bits, core.tile_k),
    }
    if block not in makers:
        raise typer.BadParameter(f"expected one of {', '.join(makers)}, got {block!r}", param_hint="--block")
    text = verilog(makers[block](), block)
    atomic_write(out, text.encode())
    Console().print(f"wrote {out} ({len(text.splitlines()):,} lines)")


def _yosys_version() -> str:
    from importlib.metadata import version

    return version("pyosys")
