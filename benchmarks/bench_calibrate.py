"""Calibration + capture time against one FP32 forward pass over the same tokens, and peak memory.

Model: SmolLM2-135M (the built-in ``smollm2-135m``); tokens: ``--windows`` windows of ``--seqlen``
tokens of the offline Wikipedia text, in batches of ``--batch-size``. Timed in the same run:

1. one FP32 forward pass over the tokens (the baseline);
2. ``calibrate`` with the default configuration (min/max observers, ZPM search, DBS) and the
   paper's Llama mixed precision (12-bit down-projection inputs);
3. capture: one forward pass of the quantized model under ``capture`` (every GEMM through the
   AQS-GEMM with counts and vector masks).

Prints (2 + 3) / 1 and each stage's peak resident memory (the process's, model and tokens
included), read from the kernel's high-water mark reset before the stage (``/proc/self/clear_refs``;
where that is not allowed, the peak of the whole run so far).

Usage: python benchmarks/bench_calibrate.py [--windows 32] [--seqlen 512] [--batch-size 4]
"""

from __future__ import annotations

import argparse
import time

import torch
from _timing import peak_rss_gb

from panacea.models.loaders import load_model
from panacea.models.run import forward
from panacea.quant import CalibrationConfig, calibrate, capture, quantized
from panacea.schemes import load_profile
from panacea.tasks.data import token_windows, tokenize, wikipedia_text


def peak_reset() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM); False where /proc does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--windows", type=int, default=32)
    parser.add_argument("--seqlen", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args()

    lm = load_model(args.model)
    ids = tokenize(lm.tokenizer, wikipedia_text(), args.windows * args.seqlen)
    batches = list(token_windows(ids, args.seqlen, args.windows).split(args.batch_size))
    tokens = args.windows * args.seqlen
    print(
        f"{lm.name}: {args.windows} x {args.seqlen} = {tokens} tokens, batches of {args.batch_size}, "
        f"{torch.get_num_threads()} threads"
    )

    per_stage = peak_reset()
    with torch.no_grad():
        t0 = time.perf_counter()
        for b in batches:
            lm.model(b)
        fp32 = time.perf_counter() - t0
    print(f"FP32 forward:     {fp32:7.1f} s   peak RSS {peak_rss_gb():.2f} GB")

    config = CalibrationConfig(overrides=load_profile("accurate").overrides(lm.model.config.model_type))
    peak_reset()
    t0 = time.perf_counter()
    recipe = calibrate(lm.model, batches, config)
    calib = time.perf_counter() - t0
    calib_peak = peak_rss_gb()
    print(f"calibrate:        {calib:7.1f} s   peak RSS {calib_peak:.2f} GB  ({len(recipe.layers)} GEMMs)")

    peak_reset()
    t0 = time.perf_counter()
    with torch.no_grad(), quantized(lm.model, recipe) as qmodel, capture(qmodel) as rec:
        for b in batches:
            forward(qmodel, b, logits=False)  # the output head is not a quantized GEMM
    cap = time.perf_counter() - t0
    print(f"capture:          {cap:7.1f} s   peak RSS {peak_rss_gb():.2f} GB  ({len(rec.layers)} workloads)")

    print(f"(calibrate + capture) / FP32 forward = {(calib + cap) / fp32:.2f}   (goal <= 3)")
    scope = "calibration" if per_stage else "the whole run so far (per-stage peaks unavailable here)"
    print(f"peak RSS of {scope} = {calib_peak:.2f} GB   (goal <= 3 GB)")


if __name__ == "__main__":
    main()
