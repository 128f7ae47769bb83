"""Which DBS target matches the paper's DBS figures? (the ``paper`` profile's ``dbs_target``)

The paper gives two DBS figures: +20% average slice sparsity on DeiT-base (section III-C) and
-11% energy / +12% throughput on GPT-2 (Fig. 15's "+DBS" step, DTP off). For each shipped model,
under the ``paper`` profile, one ``panacea evaluate`` run with ``zpm`` and one ``dbs`` scheme per
target (scheme files written here, so calibration passes are shared): the activations' mean
top-slice sparsity with ZPM alone and with ZPM + DBS, and on Panacea the energy and throughput
change of the +DBS step.

    .venv/bin/python experiments/dbs_target.py [OUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

from panacea.flows.evaluate import EvaluateConfig, evaluate

TARGETS = (0.6, 0.75, 0.9)
MODELS = ("smollm2-135m", "minilm-l6", "efficientnet-lite0")


def scheme_file(folder: Path, target: float) -> Path:
    path = folder / f"dbs-t{round(100 * target)}.toml"
    path.write_text(
        f'name = "{path.stem}"\nlabel = "asym + ZPM + DBS, target {target}"\nformat = "bitslice-asym"\n'
        f'[calibration]\nzpm = "search"\ndbs = true\ndbs_target = {target}\n'
    )
    return path


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    files = {t: scheme_file(out, t) for t in TARGETS}
    print("model | target | metric zpm -> dbs | act slice sparsity zpm -> dbs | energy | TOPS")
    for model in MODELS:
        config = EvaluateConfig(
            model=model,
            schemes=("zpm", *map(str, files.values())),
            accelerators=("panacea",),
            profile="paper",
        )
        res = evaluate(config, out / model, resume=True)
        zpm = res.scheme("zpm")
        metric = next(iter(res.fp32))
        before = res.cost("panacea", "zpm", "dtp-off")
        for target, path in files.items():
            dbs, after = res.scheme(path.stem), res.cost("panacea", path.stem, "dtp-off")
            print(
                f"{model} | {target} | {metric} {zpm.metrics[metric]:.4g} -> {dbs.metrics[metric]:.4g} | "
                f"{zpm.act_slice_sparsity:.3f} -> {dbs.act_slice_sparsity:.3f} "
                f"({dbs.act_slice_sparsity / zpm.act_slice_sparsity - 1:+.1%}) | "
                f"{after.energy_j / before.energy_j - 1:+.1%} | {after.tops / before.tops - 1:+.1%}",
                flush=True,
            )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "dbs-target-runs"))
