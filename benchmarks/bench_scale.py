"""``panacea evaluate`` at the paper's model sizes: time per stage against an FP32 forward, peak RSS.

Models: config-built Llamas with random weights (nothing is downloaded), shaped like SmolLM2-135M,
Llama-3.2-1B and Llama-3.2-3B, each built once in bfloat16 and saved as safetensors with the
shipped SmolLM2 tokenizer under ``$PANACEA_CACHE/bench-scale/`` (the 3B one is 6.4 GB on disk).

Each model runs ``panacea evaluate`` (the Python API, the command's code path) in a fresh process,
block-streamed (:mod:`panacea.models.streaming`), on one scheme (``dbs``: the full Panacea scheme
of the ``accurate`` profile, with ZPM's search) and the designs that run it (Panacea, SIMD, the
systolic arrays), scored on ``--tokens`` tokens of the offline Wikipedia text and calibrated on as
many more. Timed in the same process, from ``results.json``'s ``seconds``:

- ``fp32``: scoring the float model (one FP32 forward over the tokens: the baseline);
- ``calibration``: observers, the ZPM search and the weights (``calibrate_many``);
- ``capture``: scoring the quantized model with every GEMM through the AQS-GEMM, under a capture;
- ``costing``: the cost models on the captured workloads.

Prints each as a ratio to ``fp32`` (calibration and capture cover as many tokens as ``fp32``),
``(calibration + capture) / fp32`` (goal <= 3), and the process's peak resident memory (VmHWM, the
kernel's high-water mark: the whole evaluation, model load included; goal <= 12 GB for 3B), and
writes the table as CSV.

Usage: python benchmarks/bench_scale.py [--sizes 135m,1b,3b] [--tokens 2048] [--csv bench_scale.csv]
       [--no-stream]   (whole models in float32, for comparison)  [--device cpu|cuda|auto]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHAPES = {  # Hugging Face LlamaConfig fields of the published models (their config.json)
    "135m": dict(
        hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
        vocab_size=49152, rope_theta=100000.0,
    ),
    "1b": dict(
        hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
        vocab_size=128256, rope_theta=500000.0,
    ),
    "3b": dict(
        hidden_size=3072, intermediate_size=8192, num_hidden_layers=28, num_attention_heads=24, num_key_value_heads=8,
        vocab_size=128256, rope_theta=500000.0,
    ),
}  # fmt: skip
DESIGNS = ("panacea", "simd", "sa-ws", "sa-os")


def model_dir(size: str) -> Path:
    from panacea.models.loaders import cache_dir

    return cache_dir() / "bench-scale" / f"llama-{size}-bf16"


def build(size: str, target: Path) -> None:
    """Build the ``size`` Llama in bfloat16 (random weights, seed 0) and save it with a tokenizer;
    the directory appears whole or not at all."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from panacea.models.loaders import load_model

    tokenizer = load_model("smollm2-135m").tokenizer
    config = LlamaConfig(
        **SHAPES[size], tie_word_embeddings=True, max_position_embeddings=8192, architectures=["LlamaForCausalLM"]
    )
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)  # never the 4-byte copy: 12.8 GB for 3B
    model = LlamaForCausalLM(config)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def worker(path: Path, args: argparse.Namespace) -> dict:
    """One ``panacea evaluate`` of the model at ``path``; its stage times and peak RSS."""
    from _timing import peak_rss_gb

    from panacea.flows.evaluate import EvaluateConfig, evaluate

    config = EvaluateConfig(
        model=str(path),
        schemes=("dbs",),
        accelerators=DESIGNS,
        tokens=args.tokens,
        calib_tokens=args.tokens,
        seqlen=args.seqlen,
        batch_size=args.batch_size,
        stream=not args.no_stream,
        device=args.device,
    )
    with tempfile.TemporaryDirectory() as out:
        results = evaluate(config, out)
    s = results.seconds
    return {
        "parameters": results.model["parameters"],
        "fp32_s": s["fp32"],
        "calibration_s": s["calibration"],
        "capture_s": s["run_dbs"],
        "costing_s": s["cost_models"],
        "total_s": s["total"],
        "peak_rss_gb": peak_rss_gb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="135m,1b,3b")
    parser.add_argument("--tokens", type=int, default=2048)
    parser.add_argument("--seqlen", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--csv", default="bench_scale.csv")
    parser.add_argument("--no-stream", action="store_true", help="whole models in float32")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--build", help=argparse.SUPPRESS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        build(args.build, model_dir(args.build))
        return
    if args.worker:
        print(json.dumps(worker(Path(args.worker), args)))
        return

    sizes = args.sizes.split(",")
    unknown = [s for s in sizes if s not in SHAPES]
    if unknown:
        parser.error(f"--sizes: unknown {unknown}; choose from {list(SHAPES)}")
    import torch

    print(
        f"{args.tokens} tokens scored + {args.tokens} calibrated, windows of {args.seqlen}, batches of "
        f"{args.batch_size}, {torch.get_num_threads()} threads, {'whole float32' if args.no_stream else 'streamed'}, "
        f"device {args.device}"
    )
    rows = []
    for size in sizes:
        path = model_dir(size)
        if not (path / "config.json").is_file():
            t0 = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--build", size], check=True)
            print(f"built {path} in {time.perf_counter() - t0:.0f} s")
        flags = ["--tokens", str(args.tokens), "--seqlen", str(args.seqlen), "--batch-size", str(args.batch_size)]
        flags += ["--device", args.device]
        done = subprocess.run(
            [sys.executable, __file__, "--worker", str(path), *flags, *(["--no-stream"] * args.no_stream)],
            check=True,
            capture_output=True,
            text=True,
        )
        r = json.loads(done.stdout.strip().splitlines()[-1])
        fp32 = r["fp32_s"]
        row = {
            "model": f"llama-{size}",
            "parameters_b": round(r["parameters"] / 1e9, 3),
            "fp32_forward_s": round(fp32, 1),
            "calibration_x": round(r["calibration_s"] / fp32, 2),
            "capture_x": round(r["capture_s"] / fp32, 2),
            "costing_x": round(r["costing_s"] / fp32, 3),
            "calibration_plus_capture_x": round((r["calibration_s"] + r["capture_s"]) / fp32, 2),
            "total_s": round(r["total_s"], 1),
            "peak_rss_gb": round(r["peak_rss_gb"], 2),
        }
        rows.append(row)
        print(" | ".join(f"{k} {v}" for k, v in row.items()), flush=True)

    from rich.console import Console
    from rich.table import Table

    table = Table("model", "params (B)", "FP32 fwd (s)", "calib. x", "capture x", "costing x", "calib.+capture x",
                  "total (s)", "peak RSS (GB)")  # fmt: skip
    for r in rows:
        table.add_row(*(str(v) for v in r.values()))
    Console().print(table)
    print("goals: calibration + capture <= 3x the FP32 forward; peak RSS of the 3B model <= 12 GB")
    with open(args.csv, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
