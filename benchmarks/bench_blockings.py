"""How close the mapper's pruned blockings come to every block size: per design and GEMM, the best
objective over :func:`panacea.hw.schedule.blockings` against the best over every resident and
streamed block size of every allowed loop order, for every tiling the design tries.

GEMMs (tokens, K, outputs, groups): transformer projections, an odd token count, a deep K, and
grouped (attention-like) GEMMs whose blocks may straddle a group boundary; random top-slice vector
masks (activations 0.8, weights 0.5). Prints the ratio pruned / exhaustive (1.0000: the pruned space
holds the best block) and the worst.

Usage: python benchmarks/bench_blockings.py [--objective energy|latency|edp]
"""

from __future__ import annotations

import argparse

import panacea.hw as hw
from panacea.hw.schedule import Blocking, fits
from panacea.workload.build import synthetic_workload

DESIGNS = ("panacea", "sibia", "sa-ws", "sa-os", "simd")
GEMMS = [
    (197, 768, 768, 1),
    (300, 512, 1000, 1),
    (128, 64, 64, 12),
    (1024, 64, 64, 12),
    (77, 3072, 768, 1),
    (513, 768, 2304, 1),
    (256, 96, 96, 7),
]


def every_blocking(g, caps: dict) -> set[Blocking]:
    out = set()
    for outer in g.orders:
        count = g.weight_tile.shape[0] if outer else g.act_part.shape[1]
        for size in range(1, count + 1):
            for resident, double in ((True, True), (True, False), (False, False)):
                blocking = Blocking(outer, size, resident, double)
                if fits(g, blocking, **caps):
                    out.add(blocking)
    return out


def ratio(design: str, n: int, k: int, m: int, groups: int, objective: str) -> float:
    scheme = "sym" if design == "sibia" else "asym"
    w = synthetic_workload(n, k, m, act_sparsity=0.8, weight_sparsity=0.5, groups=groups, scheme=scheme)
    model = hw.load(design, objective=objective)
    space = list(model.candidates(w))
    every = [(t, layout, list(every_blocking(layout[0], model.capacities()) | set(o))) for t, layout, o in space]

    return model.score_of(model.search(w, space)) / model.score_of(model.search(w, every))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objective", default="energy", choices=hw.OBJECTIVES)
    args = parser.parse_args()
    worst = (0.0, "")
    print(f"pruned / exhaustive blockings, objective {args.objective}")
    for design in DESIGNS:
        for n, k, m, groups in GEMMS:
            r = ratio(design, n, k, m, groups, args.objective)
            label = f"{design} {n}x{k}x{m}" + (f" in {groups} groups" if groups > 1 else "")
            print(f"  {label:<32} {r:.4f}")
            worst = max(worst, (r, label))
    print(f"worst: {worst[0]:.4f} ({worst[1]}) over {len(DESIGNS) * len(GEMMS)} points")


if __name__ == "__main__":
    main()
