"""Does re-using a mapping searched for one layer ever cost a layer of its kind more than the fixed
mapping? (``CostModel.actions`` re-checks only choices that beat the fixed mapping by less than
``RECHECK_MARGIN`` where they were searched; this checks the others on a real model.)

Costs every captured layer of ``MODEL`` (Panacea and the dense designs on ``dbs``, Sibia on
``sym``), each design once with ``--mapping search`` (one cost model, so its cache is used as in
``panacea evaluate``) and once with ``--mapping fixed``, and prints per design the layers whose
searched energy exceeds their fixed energy and the worst ratio. The captures come from the cache of
an earlier ``panacea evaluate MODEL --out DIR`` (default profile and tokens), or are made here.

Usage: python experiments/cached_mappings.py DIR [MODEL]   (MODEL default smollm2-135m)
"""

from __future__ import annotations

import sys
from pathlib import Path

import panacea.hw as hw
from panacea.flows.cache import Cache
from panacea.flows.evaluate import EvaluateConfig
from panacea.flows.pipeline import run_schemes
from panacea.schemes import SCHEME_OF_KIND

DESIGNS = ("panacea", "sibia", "sa-ws", "sa-os", "simd")


def main(out: Path, model: str) -> None:
    runs = run_schemes(
        EvaluateConfig(model=model, schemes=("sym", "dbs")).model_run(), Cache(out / "cache", resume=True)
    )
    for design in DESIGNS:
        searched, fixed = hw.load(design), hw.load(design, mapping="fixed")
        layers = runs.captures[SCHEME_OF_KIND[searched.spec.kind]]["main"]
        ratios = [sum(searched.run(w).energy_pj.values()) / sum(fixed.run(w).energy_pj.values()) for w in layers]
        worse = sum(r > 1 + 1e-12 for r in ratios)
        print(f"{design:8s} {len(layers)} layers: {worse} cost more than the fixed mapping; worst {max(ratios):.4f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "smollm2-135m")
