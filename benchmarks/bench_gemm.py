"""AQS-GEMM speed and memory against the float32 GEMM of the same shape, timed in the same run.

The physical reference of an exact integer GEMM on a CPU is the float32 GEMM of the same shape:
it is exact on these operands when K is chunked (``panacea.core.intmm``) and every CPU has a fast one,
while ``torch._int_mm`` is fast only with AVX-512 VNNI or AMX (elsewhere a reference loop 12-47x
slower). For GPT-2-small GEMM shapes at 1024 tokens this prints the median time of each of the
following divided by the median time of ``x @ w.T`` on float32 operands of the same shape, all
timed interleaved so that they see the same machine state:

- ``_int_mm``: ``torch._int_mm`` on int8 operands of the same shape (the integer kernel itself);
- packed: ``aqs_gemm`` (output and counts) given ``pack_weights(w_q)`` (weight-side work done once,
  offline, as the accelerator does), on every exact integer back end of this machine
  (``PANACEA_INTMM``), the one chosen here marked with ``*``;
- fast: the same given a plain weight tensor (everything done per call), chosen back end;
- slice: the slice-level path (the algorithm; a reference, not built for speed), timed in a loop
  of its own (its large temporaries would disturb the others) against its own baseline.

Also prints the peak extra memory of the fast path (measured in a child process: peak RSS during
the call minus the RSS before it, with glibc's mmap threshold fixed so freed tensors leave RSS)
divided by the size of its int64 output, and the CPU's instruction sets that decide integer GEMM
speed (figures from hosts with and without VNNI/AMX must not be mixed).

The operands are realistic integers: LayerNorm-like activations with outlier channels quantized
asymmetrically to 8 bits with ZPM, and heavy-tailed weights quantized per channel to 7 bits
(``panacea.flows.demo.synthetic_layer``).

Usage: python benchmarks/bench_gemm.py [--tokens 1024] [--repeats 15] [--csv FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable

import torch
from _timing import median_times
from rich.console import Console
from rich.table import Table

import panacea
from panacea.core.files import write_csv
from panacea.core.intmm_backends import BACKENDS, ENV_VAR
from panacea.core.intmm_choice import choose_backend, cpu_features, is_exact
from panacea.flows.demo import synthetic_layer
from panacea.quant import asymmetric_qparams, quantize_asymmetric, quantize_symmetric, symmetric_scale, zpm_zero_point

SHAPES = [(768, 2304), (768, 768), (768, 3072), (3072, 768)]  # (K, M): QKV, attn proj, fc1, fc2
GOAL = 1.5  # packed aqs_gemm / float32 matmul, on every shape
MEMORY_GOAL = 4.0  # the plain path's peak extra memory / its int64 output


def operands(tokens: int, k: int, m: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    x, w = synthetic_layer(tokens, k, m, seed=0)
    scale, z = asymmetric_qparams(float(x.min()), float(x.max()), 8)
    z = zpm_zero_point(z)
    x_q = quantize_asymmetric(x, scale, z, 8)
    w_q = quantize_symmetric(w, symmetric_scale(w, 7), 7)
    return x_q, w_q, z


def _status_bytes(key: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(rf"{key}:\s+(\d+) kB", f.read()).group(1)) * 1024


def memory_child(tokens: int, k: int, m: int) -> None:
    """Runs in a fresh process: prints peak extra bytes of one fast-path call and the output size."""
    x_q, w_q, z = operands(tokens, k, m)
    panacea.aqs_gemm(x_q[:8], w_q[:8], z)  # load kernels and choose the integer back end
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak-RSS counter (VmHWM)
    base = _status_bytes("VmRSS")
    res = panacea.aqs_gemm(x_q, w_q, z)
    peak = _status_bytes("VmHWM")
    # The kernel syncs per-thread RSS counters lazily (every 64 faults), so on an output of a few
    # pages VmHWM can read below the VmRSS taken just before: that is "no measurable extra", not < 0.
    print(json.dumps({"extra": max(peak - base, 0), "output": res.output.numel() * res.output.element_size()}))


def peak_extra_ratio(tokens: int, k: int, m: int) -> float | None:
    """Peak extra memory / int64 output size, or None where /proc does not allow the measurement."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
    cmd = [sys.executable, __file__, "--memory-child", str(tokens), str(k), str(m)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return data["extra"] / data["output"]


def exact_backends() -> list[str]:
    """The integer back ends exact on this CPU."""
    return [b for b in BACKENDS if is_exact(b)]


def forced(backend: str, fn: Callable[[], object]) -> Callable[[], object]:
    """``fn`` run with ``backend`` forced (``PANACEA_INTMM``), the environment restored after."""

    def run() -> object:
        before = os.environ.get(ENV_VAR)
        os.environ[ENV_VAR] = backend
        try:
            return fn()
        finally:
            if before is None:
                del os.environ[ENV_VAR]
            else:
                os.environ[ENV_VAR] = before

    return run


def bench_shape(tokens: int, k: int, m: int, repeats: int) -> dict[str, float | None]:
    """The measurements of one shape: sparsities, baseline seconds, each time over the float32
    matmul's (``packed_<back end>`` for every exact back end) and the peak memory ratio (None
    where /proc does not allow it)."""
    x_q, w_q, z = operands(tokens, k, m)
    a8 = (x_q ^ 128).view(torch.int8)  # same-shape dense int8 operands for _int_mm
    xf, wf = x_q.to(torch.float32), w_q.to(torch.float32)  # same-shape float32 operands
    packed = panacea.pack_weights(w_q)
    counts = panacea.aqs_gemm(x_q, packed, z).counts

    def baseline() -> torch.Tensor:
        return xf @ wf.T

    fns = {
        "f32": baseline,
        "int_mm": lambda: torch._int_mm(a8, w_q.t()),
        "fast": lambda: panacea.aqs_gemm(x_q, w_q, z),
        **{f"packed_{b}": forced(b, lambda: panacea.aqs_gemm(x_q, packed, z)) for b in exact_backends()},
    }
    t = median_times(fns, repeats)
    # The slice-level path allocates far more; timed in its own loop so that it does not disturb
    # the others, against its own baseline.
    t_slice = median_times({"f32": baseline, "slice": lambda: panacea.aqs_gemm(x_q, packed, z, path="slice")}, 5)
    t["slice"] = t_slice["slice"] * t["f32"] / t_slice["f32"]
    return {
        "act_sparsity": counts.act_vector_sparsity,
        "weight_sparsity": counts.weight_vector_sparsity,
        "f32_s": t["f32"],
        **{name: t[name] / t["f32"] for name in t if name != "f32"},
        "memory": peak_extra_ratio(tokens, k, m),
    }


def columns(backends: list[str]) -> list[str]:
    """The ratio columns of the table, in order."""
    return ["int_mm", *(f"packed_{b}" for b in backends), "fast", "slice"]


def table_row(k: int, m: int, r: dict[str, float | None], names: list[str]) -> list[str]:
    """``bench_shape``'s measurements as the cells of the printed table."""
    return [
        f"{k} x {m}",
        f"{r['act_sparsity']:.1%}",
        f"{r['weight_sparsity']:.1%}",
        f"{r['f32_s'] * 1e3:.2f}",
        *(f"{r[name]:.2f}" for name in names),
        "n/a" if r["memory"] is None else f"{r['memory']:.2f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--csv", help="also write the rows to this CSV file")
    parser.add_argument("--memory-child", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return

    console = Console()
    chosen = choose_backend("cpu").backend
    backends = exact_backends()
    names = columns(backends)
    console.print(
        f"panacea {panacea.__version__}, torch {torch.__version__}, {cpu_features()}, "
        f"{torch.get_num_threads()} threads; {choose_backend('cpu').describe()}; "
        f"N = {args.tokens} tokens, median of {args.repeats}"
    )
    table = Table(title="time / float32 matmul time (same shape, same run)")
    headers = [n.replace("packed_", "packed ") + (" *" if n == f"packed_{chosen}" else "") for n in names]
    for col in ("K x M", "act sp.", "wt sp.", "f32 ms", *headers, "peak mem / out"):
        table.add_column(col, justify="right")
    rows = []
    for k, m in SHAPES:
        r = bench_shape(args.tokens, k, m, args.repeats)
        rows.append({"k": k, "m": m, **r})
        table.add_row(*table_row(k, m, r, names))
    console.print(table)
    worst = max(r[f"packed_{chosen}"] for r in rows)
    memory = [r["memory"] for r in rows if r["memory"] is not None]
    worst_memory = (
        f"{'met' if max(memory) <= MEMORY_GOAL else 'NOT met'} (worst {max(memory):.2f}x)" if memory else "n/a"
    )
    console.print(
        "_int_mm: torch._int_mm on int8 operands; packed X: aqs_gemm (output and counts) on packed weights with "
        "the X back end (* chosen here); fast: plain weights, chosen back end; slice: the slice-level path\n"
        f"goals: packed (chosen back end) <= {GOAL}x the float32 matmul on every shape: "
        f"{'met' if worst <= GOAL else 'NOT met'} (worst {worst:.2f}x); "
        f"peak extra memory of the fast path <= {MEMORY_GOAL}x its int64 output: {worst_memory}"
    )
    if args.csv:
        write_csv(args.csv, [{"cpu": cpu_features(), "backend": chosen, **r} for r in rows])


if __name__ == "__main__":
    main()
