"""The accelerator cost models on synthetic workloads: ``panacea cost`` (one GEMM on each design),
``panacea sweep`` (the paper's Fig. 13) and ``panacea aq-peak`` (the JSSC 2024 accelerator's peak)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from panacea.cli import _options as opt
from panacea.cli._common import StageProgress, fail, interruptible
from panacea.core.progress import stage_progress
from panacea.flows.executors import make_executor


@interruptible("run it again")
def sweep(
    out: Path = typer.Option(Path("sweep"), help="Directory for sweep.csv and sweep.png."),
    levels: str = typer.Option(
        "0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.95", help="Top-slice vector sparsities of weights and activations."
    ),
    sizes: str = typer.Option("small=128x256x256,large=1024x768x768", help="Comma-separated name=NxKxM operand sizes."),
    seed: int = typer.Option(0, min=0, help="Seed of the random masks."),
    mapping: str = opt.MAPPING,
    objective: str = typer.Option("latency", help="What the mapping search minimises (Fig. 13 plots throughput)."),
    jobs: int = opt.JOBS,
    executor: str = opt.EXECUTOR,
    address: str | None = opt.ADDRESS,
) -> None:
    """The paper's Fig. 13: throughput of every design against weight and activation sparsity.

    Example: panacea sweep --out sweep --levels 0,0.5,0.9,0.95
    """
    from panacea.flows.sweep import PANACEA_CONFIGS, plot, sparsity_sweep, summary, write_csv
    from panacea.report.console import sweep_table

    shapes = _sizes(sizes)
    grid = opt.fractions(levels, "levels")
    if not shapes:
        fail("sizes must name at least one name=NxKxM size")
    opt.check_mapping(mapping, objective)
    try:
        runner = make_executor(executor, jobs, address)
    except ValueError as err:
        fail(str(err))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        fail(f"cannot create the output directory {str(out)!r}: {err.strerror}")
    console = Console()
    with StageProgress(console) as progress:
        rows = sparsity_sweep(
            shapes,
            grid,
            seed=seed,
            progress=stage_progress(progress, "sweep"),
            mapping=mapping,
            objective=objective,
            executor=runner,
        )
    try:
        write_csv(rows, out / "sweep.csv")
        plot(rows, out / "sweep.png")
    except OSError as err:
        fail(f"cannot write to {str(out)!r}: {err.strerror}")
    console.print(sweep_table({config: summary(rows, config) for config in PANACEA_CONFIGS}))
    console.print(f"wrote {out / 'sweep.csv'} ({len(rows)} rows) and {out / 'sweep.png'}")


def _sizes(text: str) -> dict[str, tuple[int, int, int]]:
    """``"name=NxKxM,..."`` -> {name: (n, k, m)}."""
    shapes = {}
    for item in (s.strip() for s in text.split(",") if s.strip()):
        name, _, shape = item.partition("=")
        if not shape:
            fail(f"sizes must be name=NxKxM items, got {item!r}")
        shapes[name.strip()] = opt.shape(shape, f"size {name!r}")
    return shapes


@interruptible("run it again")
def aq_peak(
    spec: str = typer.Option("aq-bitserial", help="A bitserial-kind design: shipped name or TOML spec."),
    sparsity: float = typer.Option(0.3, min=0.0, max=1.0, help="Fraction of zero codes in each operand."),
    energy: Path | None = opt.ENERGY,
) -> None:
    """Peak throughput and efficiency of the JSSC 2024 arbitrary-quantization accelerator over
    1-8-bit codes, beside the paper.

    Example: panacea aq-peak --sparsity 0.3
    """
    import panacea.hw as hw
    from panacea.hw.bitserial import peak
    from panacea.report.console import aq_peak_table

    try:
        model = hw.load(spec, energy)
    except (ValueError, OSError) as err:
        fail(str(err))
    if model.spec.kind != "bitserial":
        fail(f"spec {spec!r} is a {model.spec.kind} design; aq-peak takes a bitserial one (aq-bitserial)")
    Console().print(aq_peak_table(model.name, sparsity, [peak(model, bits, sparsity) for bits in range(1, 9)]))


@interruptible("run it again")
def cost(
    specs: list[str] = typer.Option(
        ["panacea", "sibia", "sa-ws", "sa-os", "simd"], "--spec", help="Shipped design or TOML spec (repeatable)."
    ),
    shape: str = typer.Option("1024x768x768", help="GEMM NxKxM (tokens x in x out)."),
    act_sparsity: float = typer.Option(0.9, min=0.0, max=1.0, help="Activation top-slice vector sparsity."),
    weight_sparsity: float = typer.Option(0.5, min=0.0, max=1.0, help="Weight top-slice vector sparsity."),
    energy: Path | None = opt.ENERGY,
    seed: int = typer.Option(0, min=0, help="Seed of the random masks."),
    mapping: str = opt.MAPPING,
    objective: str = opt.OBJECTIVE,
) -> None:
    """Cost one synthetic GEMM on each design: cycles, utilization, traffic, energy per component,
    and the mapping each design ran.

    Example: panacea cost --spec panacea --spec my_panacea.toml --shape 1024x768x3072
    """
    import panacea.hw as hw
    from panacea.report.console import cost_table, mapping_lines
    from panacea.schemes import activations_of_kind
    from panacea.workload.build import synthetic_workload

    n, k, m = opt.shape(shape, "shape")
    opt.check_mapping(mapping, objective)
    try:
        models = [hw.load(s, energy, mapping=mapping, objective=objective) for s in specs]
    except (ValueError, OSError) as err:
        fail(str(err))
    opts = dict(act_sparsity=act_sparsity, weight_sparsity=weight_sparsity, seed=seed)
    workloads = {scheme: synthetic_workload(n, k, m, scheme=scheme, **opts) for scheme in ("asym", "sym")}
    costs = []
    for model in models:
        if model.spec.kind == "bitserial":
            fail(f"{model.name} runs arbitrarily quantized workloads: see `panacea aq-peak` and `panacea evaluate`")
        try:
            costs.append(model.run(workloads[activations_of_kind(model.spec.kind)]))
        except ValueError as err:
            fail(str(err))
    console = Console()
    console.print(cost_table(costs, (n, k, m), act_sparsity, weight_sparsity))
    for line in mapping_lines(costs, mapping, objective):
        console.print(line)
