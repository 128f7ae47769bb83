"""Time to cost every GEMM of a 12-layer GPT-2-shaped model on all five designs, against one FP32
forward pass of that model in the same run.

Workloads: the 49 weight GEMMs of GPT-2 (124M) at ``--tokens`` tokens (per block: the fused QKV
projection 768 -> 2304, the attention output 768 -> 768, the MLP 768 -> 3072 and 3072 -> 768; then
the LM head 768 -> 50257), as synthetic workloads with random top-slice vector masks of the given
sparsities (activations ``--act-sparsity``, weights ``--weight-sparsity``: the cost models' run time
does not depend on where the masks came from). Panacea and the dense designs get the asymmetric
workloads, Sibia the symmetric ones. Building the workloads is not timed.

Each design is costed by a new cost model (``--mapping search``, the default: its mapping search
runs once per distinct GEMM and is timed; ``--mapping fixed``: the spec's tiles).

Baseline: one FP32 forward pass of a randomly initialised ``GPT2LMHeadModel`` (the GPT-2 config)
over ``--tokens`` tokens, best of ``--repeats``. Prints cost-model time / forward time (goal <= 1).

Usage: python benchmarks/bench_hw.py [--tokens 1024] [--repeats 3] [--mapping search|fixed]
"""

from __future__ import annotations

import argparse
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel

import panacea.hw as hw
from panacea.hw.bitserial import synthetic_aq_workload
from panacea.workload.build import synthetic_workload


def gpt2_gemms(tokens: int, hidden: int = 768, layers: int = 12, vocab: int = 50257) -> list[tuple[str, int, int, int]]:
    """(name, n, k, m) of every weight GEMM of a GPT-2-shaped model."""
    shapes = []
    for i in range(layers):
        shapes += [
            (f"h.{i}.attn.c_attn", tokens, hidden, 3 * hidden),
            (f"h.{i}.attn.c_proj", tokens, hidden, hidden),
            (f"h.{i}.mlp.c_fc", tokens, hidden, 4 * hidden),
            (f"h.{i}.mlp.c_proj", tokens, 4 * hidden, hidden),
        ]
    return [*shapes, ("lm_head", tokens, hidden, vocab)]


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(
    tokens: int,
    act_sparsity: float,
    weight_sparsity: float,
    repeats: int,
    *,
    mapping: str = "search",
    hidden: int = 768,
    layers: int = 12,
    vocab: int = 50257,
) -> tuple[float, dict[str, tuple[float, hw.Cost]]]:
    """FP32 forward seconds, and per design (name) the seconds and the cost of the whole model."""
    torch.manual_seed(0)
    shapes = gpt2_gemms(tokens, hidden, layers, vocab)
    opts = dict(act_sparsity=act_sparsity, weight_sparsity=weight_sparsity)
    asym = [synthetic_workload(n, k, m, name=name, seed=i, **opts) for i, (name, n, k, m) in enumerate(shapes)]
    sym = [
        synthetic_workload(n, k, m, name=name, seed=i, scheme="sym", **opts) for i, (name, n, k, m) in enumerate(shapes)
    ]

    config = GPT2Config(
        n_positions=max(1024, tokens), n_embd=hidden, n_layer=layers, vocab_size=vocab, n_head=max(1, hidden // 64)
    )
    gpt2 = GPT2LMHeadModel(config).eval()
    ids = torch.randint(0, vocab, (1, tokens))

    def forward() -> None:
        with torch.inference_mode():
            gpt2(ids)

    forward()  # warm-up
    t_forward = best_of(repeats, forward)
    results = {}
    # the arbitrary-quantization accelerator: 4-bit uniform codes with 30 % zeros on the same shapes
    aq = [
        synthetic_aq_workload(4, 0.3, n=n, k=k, m=m, block=64, run_bits=4, seed=i, name=name)
        for i, (name, n, k, m) in enumerate(shapes)
    ]
    for name in hw.BUILTIN_SPECS:
        out = []
        workloads = {"sibia": sym, "aq-bitserial": aq}.get(name, asym)

        def cost(name=name, w=workloads, o=out) -> None:
            # a new model each time: its mapping cache starts empty, so the search is timed too
            o.append(hw.load(name, mapping=mapping).run(w))

        seconds = best_of(repeats, cost)
        results[out[-1].design] = (seconds, out[-1])
    return t_forward, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--act-sparsity", type=float, default=0.9)
    parser.add_argument("--weight-sparsity", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mapping", choices=hw.MAPPING_MODES, default="search")
    args = parser.parse_args()
    t_forward, results = measure(
        args.tokens, args.act_sparsity, args.weight_sparsity, args.repeats, mapping=args.mapping
    )
    t_cost = sum(seconds for seconds, _ in results.values())
    print(
        f"GPT-2-shaped model, {len(gpt2_gemms(args.tokens))} GEMMs at {args.tokens} tokens "
        f"(act sparsity {args.act_sparsity}, weight sparsity {args.weight_sparsity}), mapping {args.mapping}; "
        f"torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"FP32 forward pass (best of {args.repeats}): {t_forward:.3f} s")
    for name, (seconds, c) in results.items():
        print(
            f"  cost on {name:12s} {seconds:.3f} s   ({c.cycles:,} cycles, {c.tops:.2f} TOPS, "
            f"{c.tops_per_watt:.2f} TOPS/W)"
        )
    print(f"cost models, all {len(results)} designs: {t_cost:.3f} s")
    print(f"ratio cost / forward: {t_cost / t_forward:.2f} (goal <= 1)")


if __name__ == "__main__":
    main()
