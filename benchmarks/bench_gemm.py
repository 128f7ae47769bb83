"""AQS-GEMM speed and memory against a dense int8 GEMM timed in the same run.

For GPT-2-small GEMM shapes at 1024 tokens, prints the median time of ``aqs_gemm`` (output and
counts) divided by the median time of ``torch._int_mm`` on int8 operands of the same shape,
interleaved so all see the same machine state:

- fast: the default path given a plain weight tensor (everything done per call);
- packed: the default path given ``pack_weights(w_q)`` (weight-side work done once, offline, as
  the accelerator does: validation, top-slice mask and RLE size, row sums);
- slice: the slice-level path (the algorithm; a reference, not built for speed), timed in a loop
  of its own (its large temporaries would disturb the others) against its own baseline.

Also prints the peak extra memory of the fast path (measured in a child process: peak RSS during
the call minus the RSS before it, with glibc's mmap threshold fixed so freed tensors leave RSS)
divided by the size of its int64 output.

The operands are realistic integers: LayerNorm-like activations with outlier channels quantized
asymmetrically to 8 bits with ZPM, and heavy-tailed weights quantized per channel to 7 bits
(``panacea.demo.synthetic_layer``).

Usage: python benchmarks/bench_gemm.py [--tokens 1024] [--repeats 15]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys

import torch
from rich.console import Console
from rich.table import Table

import panacea
from panacea._timing import median_times
from panacea.demo import synthetic_layer
from panacea.quant import asymmetric_qparams, quantize_asymmetric, quantize_symmetric, symmetric_scale, zpm_zero_point

SHAPES = [(768, 2304), (768, 768), (768, 3072), (3072, 768)]  # (K, M): QKV, attn proj, fc1, fc2


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
    panacea.aqs_gemm(x_q[:8], w_q[:8], z)  # load kernels and run the _int_mm self-check
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


def bench_shape(tokens: int, k: int, m: int, repeats: int) -> dict[str, float | None]:
    """The measurements of one shape: sparsities, baseline seconds, the three time ratios and the
    peak memory ratio (None where /proc does not allow it)."""
    x_q, w_q, z = operands(tokens, k, m)
    a8 = (x_q ^ 128).view(torch.int8)  # same-shape dense int8 operands for the baseline
    packed = panacea.pack_weights(w_q)
    counts = panacea.aqs_gemm(x_q, packed, z).counts

    def baseline() -> torch.Tensor:
        return torch._int_mm(a8, w_q.t())

    t = median_times(
        {
            "int_mm": baseline,
            "fast": lambda: panacea.aqs_gemm(x_q, w_q, z),
            "packed": lambda: panacea.aqs_gemm(x_q, packed, z),
        },
        repeats,
    )
    # The slice-level path allocates far more; timed in its own loop so that it does not disturb
    # the others, against its own baseline.
    t_slice = median_times({"int_mm": baseline, "slice": lambda: panacea.aqs_gemm(x_q, packed, z, path="slice")}, 5)
    t["slice"] = t_slice["slice"] * t["int_mm"] / t_slice["int_mm"]
    return {
        "act_sparsity": counts.act_vector_sparsity,
        "weight_sparsity": counts.weight_vector_sparsity,
        "int_mm_s": t["int_mm"],
        **{name: t[name] / t["int_mm"] for name in ("fast", "packed", "slice")},
        "memory": peak_extra_ratio(tokens, k, m),
    }


def table_row(k: int, m: int, r: dict[str, float | None]) -> list[str]:
    """``bench_shape``'s measurements as the cells of the printed table."""
    return [
        f"{k} x {m}",
        f"{r['act_sparsity']:.1%}",
        f"{r['weight_sparsity']:.1%}",
        f"{r['int_mm_s'] * 1e3:.2f}",
        *(f"{r[name]:.2f}" for name in ("fast", "packed", "slice")),
        "n/a" if r["memory"] is None else f"{r['memory']:.2f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--memory-child", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return

    console = Console()
    console.print(
        f"panacea {panacea.__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"_int_mm exact here: {panacea.intmm.int_mm_is_exact()}; N = {args.tokens} tokens, "
        f"median of {args.repeats}"
    )
    table = Table(title="aqs_gemm time / torch._int_mm time (same shape, same run)")
    for col in ("K x M", "act sp.", "wt sp.", "_int_mm ms", "fast", "packed", "slice", "peak mem / out"):
        table.add_column(col, justify="right")
    for k, m in SHAPES:
        table.add_row(*table_row(k, m, bench_shape(args.tokens, k, m, args.repeats)))
    console.print(table)
    console.print(
        "fast / packed / slice: aqs_gemm time / _int_mm time (plain weights / packed weights / slice-level path)\n"
        "goals: packed ratio <= 1.3 and fast (plain weights) ratio <= 1.6 on every shape (issue 15); "
        "peak extra memory of the fast path <= 4x its int64 output"
    )


if __name__ == "__main__":
    main()
