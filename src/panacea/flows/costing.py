"""Costing a run's workloads on every design, the way the paper compares them.

Which workloads each design runs follows from the number formats it computes on (``formats`` of
its spec; the paper's section IV pairing):

- ``panacea`` designs: every ``bitslice-asym`` scheme as designed, and with DTP off (the ablation
  of Fig. 15: AQS-GEMM, +ZPM, +DBS with DTP off, then +DTP; the DTP-off design lacks DTP's
  hardware, and DBS's shifters where the scheme uses no DBS type); on the main scheme
  (:func:`~panacea.results.queries.main_scheme`) also the ``zero-only`` variant, and on every
  ``bitslice-sym`` scheme the ``sym-on-panacea`` variant (Fig. 18, see
  :func:`~panacea.quant.capture.fig18_variants`);
- ``sibia`` designs: every ``bitslice-sym`` scheme (symmetric 7-bit activations, its format);
- dense designs (systolic arrays, SIMD, any integer format): the main scheme (their cost ignores
  sparsity), or the first bit-slice scheme if no ``bitslice-asym`` one runs;
- ``bitserial`` designs (the JSSC 2024 arbitrary-quantization accelerator): every ``arbitrary``
  scheme (``aq``), the model quantized with its own codebooks.
"""

from __future__ import annotations

from functools import reduce

import panacea.hw as hw
from panacea.core.formats import SLICE_BITS
from panacea.core.progress import Progress
from panacea.results.queries import main_scheme
from panacea.results.schema import CostRecord, LayerCost
from panacea.workload import Workload


def _cost_record(
    name: str, model: hw.CostModel, scheme: str, variant: str, workloads: list[Workload], per_layer: list[hw.Cost]
) -> CostRecord:
    """The record of ``model`` on ``workloads``, from each one's cost (``model.run(w)``)."""
    total = reduce(lambda a, b: a + b, per_layer)
    return CostRecord(
        accelerator=name,
        design=total.design,
        kind=model.spec.kind,
        scheme=scheme,
        variant=variant,
        macs=total.macs,
        cycles=total.cycles,
        cycles_compute=total.cycles_compute,
        cycles_memory=total.cycles_memory,
        seconds=total.seconds,
        tops=total.tops,
        tops_per_watt=total.tops_per_watt,
        energy_pj=total.energy_pj,
        utilization=total.utilization,
        dram_bits_read=total.dram_bits_read,
        dram_bits_written=total.dram_bits_written,
        sram_bits=total.sram_bits,
        area_mm2=total.area_mm2,
        layers=[
            LayerCost(
                name=w.name,
                cycles=c.cycles,
                energy_pj=sum(c.energy_pj.values()),
                mapping=c.mapping.describe(),
                mapping_fields=c.mapping.as_dict(),
            )
            for w, c in zip(workloads, per_layer, strict=True)
        ],
    )


def _ablated(model: hw.CostModel, workloads: list[Workload]) -> hw.CostModel:
    """``model``'s Panacea before +DTP in Fig. 15: without DTP's hardware, and without DBS's
    shifters too when no workload uses a DBS type (the AQS-GEMM and +ZPM steps), so each step's
    area counts what it adds (ZPM nothing, DBS its shifters, DTP its buffers and S-ACCs)."""
    spec = hw.without_dtp(model.spec)
    if all(w.lo_bits == SLICE_BITS for w in workloads):
        spec = hw.with_core(spec, dbs=False)
    # the same tile memo: the ablation re-uses the tiles its design already cut (hw.run_together)
    return hw.model_for(spec, model.energy, mapping=model.mapping, objective=model.objective, memo=model.memo)


def cost_runs(
    models: dict[str, hw.CostModel],
    formats: dict[str, str],
    captures: dict[str, dict[str, list[Workload]]],
    progress: Progress | None = None,
) -> list[CostRecord]:
    """Every (accelerator, scheme, variant) the module docstring lists, costed layer by layer;
    ``formats``: each scheme's number format, in the order of the run."""
    main = main_scheme(formats)
    runs: list[tuple[str, hw.CostModel, str, str, list[Workload]]] = []
    for name, model in models.items():
        mine = [s for s, f in formats.items() if f in model.spec.formats]
        if model.spec.dense:
            first = main if main is not None else mine[0]
            runs.append((name, model, first, "", captures[first]["main"]))
        elif model.spec.kind == "panacea":
            for s in mine:
                runs.append((name, model, s, "", captures[s]["main"]))
                if model.spec.core.dtp:
                    runs.append((name, _ablated(model, captures[s]["main"]), s, "dtp-off", captures[s]["main"]))
            runs.append((name, model, main, "zero-only", captures[main]["zero-only"]))
            for s in (s for s, f in formats.items() if f == "bitslice-sym" and "sym-on-panacea" in captures[s]):
                runs.append((name, model, s, "sym-on-panacea", captures[s]["sym-on-panacea"]))
        else:
            runs += [(name, model, s, "", captures[s]["main"]) for s in mine]
    # Runs of the same workloads are costed workload by workload across their designs, which then
    # share each workload's slice tiles (hw.run_together); each design still sees its workloads in
    # the order of the list above, so its mapping choices, and every cost, are those of a run alone.
    per_layer: list[list[hw.Cost]] = [[] for _ in runs]
    sharing: dict[int, tuple[list[Workload], list[int]]] = {}
    for i, (*_, workloads) in enumerate(runs):
        sharing.setdefault(id(workloads), (workloads, []))[1].append(i)
    done = 0
    for workloads, members in sharing.values():
        for w in workloads:
            for i in members:
                per_layer[i].append(runs[i][1].run(w))
        done += len(members)
        if progress:
            progress("cost", done, len(runs))
    return [_cost_record(*job, costs) for job, costs in zip(runs, per_layer, strict=True)]
