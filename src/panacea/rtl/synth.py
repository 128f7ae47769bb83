"""Yosys on the Amaranth designs, from the ``pyosys`` wheel (Yosys with ABC; no system EDA tools).

Every Yosys run happens in a child Python process: pyosys ends its process on a Yosys error, which
must not take the caller with it. The design goes in as RTLIL text (Amaranth's own back end).

- :func:`synthesize`: ``synth -flatten`` then ABC onto a fixed set of two-input gates, multiplexers
  and flip-flops, so that every cell has a stated size; the cell counts, their gate equivalents
  under :data:`GATE_EQUIVALENTS` and the area at 28 nm under :data:`UM2_PER_GE`.
- :func:`prove_equivalent`: the synthesized netlist against the design it came from (``equiv_make``
  / ``equiv_simple`` / ``equiv_induct``), every equivalence cell proven or the proof fails.
- :func:`verilog`: the design as Verilog, for other flows.

Area assumptions (no open 28 nm liberty exists): gate equivalents (GE, one two-input NAND) per
cell type as in :data:`GATE_EQUIVALENTS` (NAND2 1, XOR2 2.4 and DFF 6 as ZigZag's 28 nm IMC model
sizes them, zigzag/hardware/architecture/imc_unit.py; the others the usual ratios of a CMOS
library: INV 0.67, AND2/OR2/ANDNOT/ORNOT 1.33, MUX2 2.33), and 0.614 um2 per GE (ZigZag's 28 nm
NAND2). Wires and placement are not counted: the figures are cell area, a lower bound on layout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil
from amaranth.lib import wiring

UM2_PER_GE = 0.614
GATE_EQUIVALENTS = {
    "$_NOT_": 0.67,
    "$_NAND_": 1.0,
    "$_NOR_": 1.0,
    "$_AND_": 1.33,
    "$_OR_": 1.33,
    "$_ANDNOT_": 1.33,
    "$_ORNOT_": 1.33,
    "$_XOR_": 2.4,
    "$_XNOR_": 2.4,
    "$_MUX_": 2.33,
    "$_DFF_P_": 6.0,
    "$_DFFE_PP_": 6.0 + 2.33,  # a flip-flop with an enable: DFF and its feedback multiplexer
    # with a synchronous reset (control state): DFF, an AND2 / OR2 gating D, the enable's MUX2
    "$_SDFF_PP0_": 6.0 + 1.33,
    "$_SDFF_PP1_": 6.0 + 1.33,
    "$_SDFFE_PP0P_": 6.0 + 1.33 + 2.33,
    "$_SDFFE_PP1P_": 6.0 + 1.33 + 2.33,
    "$_SDFFCE_PP0P_": 6.0 + 1.33 + 2.33,
    "$_SDFFCE_PP1P_": 6.0 + 1.33 + 2.33,
}
_GATES = "AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX"


@dataclass(frozen=True)
class Synthesis:
    """Cells of a synthesized design and its area under the stated assumptions (module docs)."""

    top: str
    cells: dict[str, int]

    @property
    def gate_equivalents(self) -> float:
        return sum(GATE_EQUIVALENTS[c] * n for c, n in self.cells.items())

    @property
    def um2(self) -> float:
        return self.gate_equivalents * UM2_PER_GE


def design_rtlil(component: wiring.Component, top: str) -> str:
    """The component as RTLIL text, its top module named ``top``."""
    return rtlil.convert(component, name=top)


def _run_yosys(script: str, designs: dict[str, str], outputs: tuple[str, ...] = ()) -> dict[str, str]:
    """Run the Yosys commands of ``script`` (one per line; ``{dir}`` is a scratch directory holding
    ``designs``, file name -> RTLIL text) in a child process; returns the named ``outputs`` files."""
    with tempfile.TemporaryDirectory(prefix="panacea-yosys-") as d:
        for name, text in designs.items():
            Path(d, name).write_text(text)
        commands = script.format(dir=d).strip().splitlines()
        program = (
            "import sys\nfrom pyosys import libyosys as ys\nd = ys.Design()\n"
            "for c in sys.argv[1:]:\n    ys.run_pass(c.strip(), d)\n"
        )
        proc = subprocess.run([sys.executable, "-c", program, *commands], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise RuntimeError(f"yosys failed (exit {proc.returncode}):\n{tail}")
        return {name: Path(d, name).read_text() for name in outputs}


_SYNTH = """
    synth -flatten -top {top} -noabc
    abc -g {gates}
    opt_clean
    delete t:$scopeinfo
"""


def synthesize(component: wiring.Component, top: str) -> Synthesis:
    """Synthesize ``component`` (flattened) onto the gates of :data:`GATE_EQUIVALENTS`."""
    script = f"""
        read_rtlil {{dir}}/design.il
        {_SYNTH.format(top=top, gates=_GATES)}
        tee -q -o {{dir}}/stat.json stat -json
    """
    stat = json.loads(_run_yosys(script, {"design.il": design_rtlil(component, top)}, ("stat.json",))["stat.json"])
    cells = stat["modules"][f"\\{top}"]["num_cells_by_type"]
    unknown = sorted(set(cells) - set(GATE_EQUIVALENTS))
    if unknown:
        raise RuntimeError(f"{top}: cells without a gate-equivalent size: {unknown}")
    return Synthesis(top, dict(sorted(cells.items())))


def prove_equivalent(design: wiring.Component, top: str, netlist_of: wiring.Component | None = None) -> bool:
    """Whether the gate netlist that :func:`synthesize` makes of ``netlist_of`` (default: ``design``
    itself) is proven equivalent to ``design`` (every ``$equiv`` cell proven, combinationally or
    by induction over registers). The two must have the same ports."""
    script = f"""
        read_rtlil {{dir}}/gold.il
        hierarchy -top {top}
        proc
        flatten
        opt_clean
        delete t:$scopeinfo
        rename {top} gold
        design -stash gold
        read_rtlil {{dir}}/gate.il
        {_SYNTH.format(top=top, gates=_GATES)}
        rename {top} gate
        design -stash gate
        design -copy-from gold -as gold gold
        design -copy-from gate -as gate gate
        equiv_make gold gate equiv
        hierarchy -top equiv
        equiv_simple -seq 2
        equiv_induct -seq 2
        tee -q -o {{dir}}/status.txt equiv_status
    """
    files = {"gold.il": design_rtlil(design, top), "gate.il": design_rtlil(netlist_of or design, top)}
    status = _run_yosys(script, files, ("status.txt",))["status.txt"]
    return "Equivalence successfully proven!" in status


def verilog(component: wiring.Component, top: str) -> str:
    """The design as Verilog (Yosys ``write_verilog`` of the processed design)."""
    script = f"""
        read_rtlil {{dir}}/design.il
        hierarchy -top {top}
        proc
        opt_clean
        delete t:$scopeinfo
        write_verilog -norename {{dir}}/design.v
    """
    return _run_yosys(script, {"design.il": design_rtlil(component, top)}, ("design.v",))["design.v"]
