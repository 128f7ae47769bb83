"""Compare the systolic-array cost models with the public SCALE-Sim simulator (PyPI ``scalesim``).

For each GEMM shape, runs SCALE-Sim 3 on the shipped SA-WS / SA-OS array shape (32 x 24) with
SRAMs and bandwidth large enough never to stall, and prints its compute cycles ("Total Cycles" of
COMPUTE_REPORT.csv) beside ``cycles_compute`` of ``panacea.hw.load("sa-ws" / "sa-os")`` on the same
dense GEMM, and the ratio. SCALE-Sim's GEMM topology takes M = tokens, N = output channels, K.

    python -m venv /tmp/ss && /tmp/ss/bin/pip install scalesim==3.0.0
    python benchmarks/bench_scalesim.py --scalesim-python /tmp/ss/bin/python [--quick]

SCALE-Sim runs in a child process of ``--scalesim-python`` (default: this interpreter), since
scalesim 3.0.0 fails on numpy >= 2.3 and is best kept in an environment of its own.

A run simulates every cycle (about a minute per million-cycle layer on 2 cores; ``--quick`` keeps
the small shapes). The figures are held by tests/hw/test_systolic.py.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import sys
import tempfile
from pathlib import Path

# name: (tokens, output channels, K)
SHAPES = {
    "small a": (50, 30, 7),
    "small b": (33, 25, 100),
    "1 x 1 x 1": (1, 1, 1),
    "small d": (100, 200, 64),
    "BERT-base FC1 @128": (128, 3072, 768),
    "BERT-base FC2 @128": (128, 768, 3072),
    "GPT-2 QKV @256": (256, 2304, 768),
    "OPT-350M FC1 @128": (128, 4096, 1024),
}
QUICK = ("small a", "small b", "1 x 1 x 1", "small d")

CONFIG = """[general]
run_name = {flow}

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: 10240
FilterSramSzkB: 10240
OfmapSramSzkB: 10240
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth : 10000
Dataflow : {flow}
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""


def scalesim_child(tokens: int, outputs: int, k: int, rows: int, cols: int, flow: str, work: Path) -> None:
    """Runs where scalesim is installed: prints SCALE-Sim's compute cycles of one GEMM."""
    from scalesim.scale_sim import scalesim

    cfg, topo, layout = work / f"{flow}.cfg", work / "topo.csv", work / "layout.csv"
    cfg.write_text(CONFIG.format(flow=flow, rows=rows, cols=cols))
    topo.write_text(f"Layer, M, N, K,\ngemm, {tokens}, {outputs}, {k},\n")
    layout.write_text("Layer, a, b, c, d,\ngemm, 1, 1, 1, 1,\n")
    sim = scalesim(
        save_disk_space=True,
        verbose=False,
        config=str(cfg),
        topology=str(topo),
        layout=str(layout),
        input_type_gemm=True,
    )
    with contextlib.redirect_stdout(io.StringIO()):
        sim.run_scale(top_path=str(work / "out"))
    report = (work / "out" / flow / "COMPUTE_REPORT.csv").read_text().splitlines()[1]
    print(int(report.split(",")[2]))


def scalesim_compute_cycles(python: str, *args) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [python, __file__, "--child", *(str(a) for a in args), tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"SCALE-Sim failed ({python}):\n{proc.stderr[-2000:]}")
    return int(proc.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the small shapes")
    parser.add_argument("--scalesim-python", default=sys.executable, help="a Python with scalesim installed")
    parser.add_argument("--child", nargs=7, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        *dims, flow, work = args.child
        tokens, outputs, k, rows, cols = map(int, dims)
        return scalesim_child(tokens, outputs, k, rows, cols, flow, Path(work))
    check = subprocess.run([args.scalesim_python, "-c", "import scalesim"], capture_output=True)
    if check.returncode:
        raise SystemExit(f"scalesim is not installed for {args.scalesim_python}: pip install scalesim==3.0.0")
    # imported here: the SCALE-Sim child runs where panacea need not be installed
    from rich.console import Console
    from rich.table import Table

    from panacea.hw import load
    from panacea.workload.build import synthetic_workload

    table = Table(title="Dense GEMM compute cycles: panacea.hw vs SCALE-Sim (32 x 24 array)")
    for col in ("GEMM", "tokens x outputs x K", "dataflow", "SCALE-Sim", "panacea.hw", "ratio"):
        table.add_column(col, justify="right")
    console = Console()
    for name, (n, m, k) in SHAPES.items():
        if args.quick and name not in QUICK:
            continue
        w = synthetic_workload(n, k, m, act_sparsity=0.0, weight_sparsity=0.0)
        for flow in ("ws", "os"):
            model = load(f"sa-{flow}")
            ours = model.run(w).cycles_compute
            core = model.spec.core
            theirs = scalesim_compute_cycles(args.scalesim_python, n, m, k, core.rows, core.cols, flow)
            table.add_row(name, f"{n} x {m} x {k}", flow.upper(), str(theirs), str(ours), f"{ours / theirs:.4f}")
    console.print(table)


if __name__ == "__main__":
    main()
