"""Cross-check the systolic-array cost models and their mapper against ZigZag (PyPI ``zigzag-dse``).

For each GEMM (N tokens, K, M outputs) and each of the shipped SA-OS and SA-WS designs (32 x 24
8b x 8b MACs, 96/64/32 KB and 32/64/96 KB of SRAM, 256 bits/cycle of DRAM, our 28 nm energy
constants), ZigZag 3.9.1 runs in a child process (``benchmarks/zigzag_runner.py``, under the
interpreter of ZigZag's own environment, as the SCALE-Sim benchmark does):

1. **forced**: our mapping's loop nest forced on ZigZag, for the fixed mapping and for the searched
   one (at the largest block that divides the folds, when ours does not: ZigZag's loops have
   integer sizes): DRAM, WMEM, AMEM and OMEM bits must equal ours (WS OMEM writes: ours also
   write the 8-bit requantised outputs, ``N x M x 8`` bits, which ZigZag reads out of the partial
   sums directly);
2. **search**: ZigZag's own mapper (LOMA, energy objective; on SA-WS with the innermost loop over
   tokens, i.e. weights stationary in the PEs) against our ``--mapping search``: dynamic energy,
   DRAM bits and latency, and ours / ZigZag's.

Dynamic energy is compared like for like, without registers (DRAM + SRAM + MAC: ZigZag prices a
read and a write of every register per MAC, we price one write; both are printed) and without
leakage and the PPU (ZigZag models neither). Latency is each tool's own (ours: SCALE-Sim's fill and
drain per fold and our DRAM overlap; ZigZag's: K cycles per fold, one drain, its stall model).

    python3 -m venv /tmp/zz && /tmp/zz/bin/pip install zigzag-dse==3.9.1 six
    python benchmarks/bench_zigzag.py --zigzag-python /tmp/zz/bin/python [--quick] [--lpf 7] [--json F]

About 2 minutes on 2 cores (LOMA takes 5-10 s a GEMM at ``--lpf 7``). tests/hw/test_zigzag.py
holds the figures it printed.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

import panacea.hw as hw
from panacea.hw.schedule import Blocking
from panacea.workload.build import synthetic_workload

RUNNER = Path(__file__).resolve().parent / "zigzag_runner.py"

# name: (N tokens, K, M outputs). The three GEMMs first, then two of ours.
SHAPES = {
    "1024 x 768 x 768": (1024, 768, 768),
    "128 x 768 x 3072": (128, 768, 3072),
    "256 x 768 x 2304": (256, 768, 2304),
    "BERT FC2 @128": (128, 3072, 768),
    "OPT-350M FC1 @128": (128, 1024, 4096),
}
QUICK = ("1024 x 768 x 768",)
COUNTS = ("dram.read", "dram.write", "wmem.read", "wmem.write", "amem.read", "amem.write", "omem.read", "omem.write")


def runner_input(model: hw.CostModel, n: int, k: int, m: int, mapping: dict | None, lpf: int) -> dict:
    """The runner's JSON input for ``model``'s hardware and energy constants (module docs)."""
    spec, energy = model.spec, model.energy
    mem = spec.memory
    doc = {
        "gemm": {"n": n, "k": k, "m": m},
        "array": {"rows": spec.core.rows, "cols": spec.core.cols, "dataflow": spec.core.dataflow},
        "memory": {
            "wmem_kb": mem.wmem_kb,
            "amem_kb": mem.amem_kb,
            "omem_kb": mem.omem_kb,
            "dram_bits_per_cycle": mem.dram_bits_per_cycle,
            "output_bits": mem.output_bits,
            "accumulator_bits": spec.core.accumulator_bits,
        },
        "energy": {
            "mac_pj": energy.logic.mult_8x8 + energy.logic.accumulate,
            "register_pj_per_bit": energy.registers.pj_per_bit,
            "dram_pj_per_bit": energy.dram.pj_per_bit,
            **{
                name: {"read_pj_bit": energy.sram.read(kb), "write_pj_bit": energy.sram.write(kb)}
                for name, kb in (("wmem", mem.wmem_kb), ("amem", mem.amem_kb), ("omem", mem.omem_kb))
            },
        },
        "mapping": mapping,
    }
    if mapping is None:
        doc["loma"] = {"lpf_limit": lpf, "innermost": "N" if spec.core.dataflow == "ws" else None}
    return doc


def zigzag(python: str, doc: dict) -> dict:
    proc = subprocess.run([python, str(RUNNER)], input=json.dumps(doc), capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"zigzag_runner failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout)


def our_counts(cost: hw.Cost) -> dict[str, float]:
    s = cost.sram_bits
    return {"dram.read": cost.dram_bits_read, "dram.write": cost.dram_bits_written, **s}


def their_counts(result: dict) -> dict[str, float]:
    a = result["accesses"]
    return {f"{mem}.{d}": a[mem][f"{d}_bits"] for mem in ("dram", "wmem", "amem", "omem") for d in ("read", "write")}


def dynamic(cost: hw.Cost) -> tuple[float, float]:
    """Our dynamic energy without and with registers (pJ): DRAM + SRAM + MAC (+ registers)."""
    e = cost.energy_pj
    without = e["dram"] + e["sram"] + e["multipliers"] + e["accumulators"]
    return without, without + e["buffers"]


def dividing(model: hw.CostModel, w, cost: hw.Cost) -> hw.Cost:
    """``cost``'s mapping at the largest block that divides the outer folds (ZigZag's loops need
    integer sizes), costed by our model."""
    mapping = cost.mapping
    layout = model.layout(w, mapping.tiling)
    b = mapping.blocking
    folds = len(layout[0].weight_tile if b.weights_outer else layout[0].act_tile)
    block = max(d for d in range(1, b.block + 1) if folds % d == 0)
    if block == b.block:
        return cost
    space = [(mapping.tiling, layout, [Blocking(b.weights_outer, block, b.resident, b.double_buffer)])]
    return model.search(w, space)


def forced(python: str, model: hw.CostModel, w, cost: hw.Cost, lpf: int) -> tuple[dict, dict]:
    """Ours and ZigZag's counts (:data:`COUNTS`) under our mapping."""
    n, k, m = w.n, w.k, w.m
    theirs = their_counts(zigzag(python, runner_input(model, n, k, m, cost.mapping.as_dict(), lpf)))
    ours = our_counts(cost)
    if model.spec.core.dataflow == "ws":  # ours also write the requantised outputs into OMEM
        ours["omem.write"] -= n * m * model.spec.memory.output_bits
    return {key: ours[key] for key in COUNTS}, theirs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zigzag-python", default=sys.executable, help="Interpreter of ZigZag's environment.")
    parser.add_argument("--quick", action="store_true", help=f"Only {', '.join(QUICK)}.")
    parser.add_argument("--lpf", type=int, default=7, help="LOMA's loop-prime-factor limit (default 7).")
    parser.add_argument("--json", type=Path, help="Also write every figure to this JSON file.")
    args = parser.parse_args()
    shapes = {k: v for k, v in SHAPES.items() if not args.quick or k in QUICK}
    print(
        f"{'design':6s} {'GEMM':18s} {'forced counts':>14s}   {'E ours/ZZ pJ (no reg)':>25s} {'ratio':>6s}   "
        f"{'E with reg':>21s}   {'DRAM Mb ours/ZZ':>15s}   {'latency ours/ZZ':>19s}   mappings"
    )
    record = []
    for design in ("sa-os", "sa-ws"):
        fixed_model, model = hw.load(design, mapping="fixed"), hw.load(design)
        for name, (n, k, m) in shapes.items():
            w = synthetic_workload(n, k, m, act_sparsity=0.0, weight_sparsity=0.0)
            fixed, searched = fixed_model.run(w), model.run(w)
            divided = dividing(model, w, searched)
            counts = {
                label: forced(args.zigzag_python, m_, w, cost, args.lpf)
                for label, m_, cost in (("fixed", fixed_model, fixed), ("searched", model, divided))
            }
            differ = {
                (label, key): (ours[key], theirs[key])
                for label, (ours, theirs) in counts.items()
                for key in COUNTS
                if ours[key] != theirs[key]
            }
            loma = zigzag(args.zigzag_python, runner_input(model, n, k, m, None, args.lpf))
            ours_e, ours_reg = dynamic(searched)
            zz_reg = loma["energy_pj"]["total"]
            zz_e = zz_reg - loma["energy_pj"]["registers"]
            worst = max((abs(a / b - 1) for a, b in differ.values() if b), default=0.0)
            status = "equal" if not differ else f"within {worst:.2%}"
            print(
                f"{design:6s} {name:18s} {status:>14s}   {ours_e / 1e6:11.1f} / {zz_e / 1e6:11.1f} "
                f"{ours_e / zz_e:6.3f}   {ours_reg / 1e6:9.1f} / {zz_reg / 1e6:9.1f}   "
                f"{searched.dram_bits_read / 1e6:6.1f} / {loma['dram_bits_read'] / 1e6:6.1f}   "
                f"{searched.cycles:9,d} / {math.ceil(loma['latency_cycles']):9,d}   "
                f"ours: {searched.mapping.describe()} | ZigZag: {loma['loop_order']}"
            )
            if differ:
                print("    (a dim the array does not divide: ZigZag unrolls the partial fold fractionally)")
            print(
                f"    fixed mapping ({fixed.mapping.describe()}): E (no reg) {dynamic(fixed)[0] / 1e6:.1f} M pJ, "
                f"DRAM {fixed.dram_bits_read / 1e6:.1f} Mb; searched mapping forced at block "
                f"{divided.mapping.blocking.block}"
            )
            record.append(
                {
                    "design": design,
                    "gemm": [n, k, m],
                    "forced": {label: {"ours": o, "zigzag": t} for label, (o, t) in counts.items()},
                    "loma": {
                        "energy_pj_without_registers": zz_e,
                        "energy_pj": zz_reg,
                        "dram_bits_read": loma["dram_bits_read"],
                        "latency_cycles": loma["latency_cycles"],
                        "loop_order": loma["loop_order"],
                    },
                    "ours": {
                        "energy_pj_without_registers": ours_e,
                        "dram_bits_read": searched.dram_bits_read,
                        "cycles": searched.cycles,
                        "mapping": searched.mapping.as_dict(),
                    },
                }
            )
    if args.json:
        args.json.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
