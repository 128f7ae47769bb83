"""Architecture-level cost models of Panacea and the designs it is compared with.

``model = panacea.hw.load("panacea")`` (or ``"sibia"``, ``"sa-ws"``, ``"sa-os"``, ``"simd"``,
``"aq-bitserial"``, or the path of a TOML spec) gives a :class:`CostModel`; ``model.run(workload)``
(one :class:`~panacea.workload.Workload` or a list; an :class:`~panacea.workload.AQWorkload` for
``aq-bitserial``) gives a :class:`Cost`: cycles, traffic, operations, energy per component, TOPS
and TOPS/W. Each GEMM runs the mapping a search picks for it (``mapping="search"``, the default;
``"fixed"``: the spec's tiles), recorded in ``Cost.mapping`` (:mod:`panacea.hw.mapping`).

A model keeps ZigZag's three parts apart: the hardware (:mod:`panacea.hw.architecture`), the mapping
search (:mod:`panacea.hw.mapper`, ``model.mapper``) and the price of one mapping
(:mod:`panacea.hw.pricing`, ``model.pricing``); each design module adds its layouts.
"""

from __future__ import annotations

from pathlib import Path

from panacea.hw.bitserial import BitSerialModel
from panacea.hw.cost import COMPONENTS, Cost
from panacea.hw.energy import EnergyTable, load_energy
from panacea.hw.mapper import WorkloadMemo
from panacea.hw.mapping import MAPPING_MODES, OBJECTIVES, Mapping, MappingMode, Objective
from panacea.hw.model import CostModel, run_together
from panacea.hw.panacea import PanaceaModel
from panacea.hw.sibia import SibiaModel
from panacea.hw.simd import SimdModel
from panacea.hw.spec import BUILTIN_SPECS, ArchSpecModel, load_spec, with_core, with_memory, without_dtp
from panacea.hw.systolic import SystolicModel

_MODELS: dict[str, type[CostModel]] = {
    "panacea": PanaceaModel,
    "sibia": SibiaModel,
    "systolic": SystolicModel,
    "simd": SimdModel,
    "bitserial": BitSerialModel,
}


def model_for(
    spec: ArchSpecModel,
    energy: EnergyTable | None = None,
    *,
    mapping: MappingMode = "search",
    objective: Objective = "energy",
    memo: WorkloadMemo | None = None,
) -> CostModel:
    """The cost model of a validated spec; ``mapping`` / ``objective``: :mod:`panacea.hw.mapping`;
    ``memo``: another model's, to share the operands and tiles of the workload both cost next
    (a design and its variant, costed one after the other)."""
    return _MODELS[spec.kind](spec, energy, mapping=mapping, objective=objective, memo=memo)


def load(
    name_or_path: str | Path,
    energy: str | Path | EnergyTable | None = None,
    *,
    mapping: MappingMode = "search",
    objective: Objective = "energy",
) -> CostModel:
    """The cost model of a shipped design (``BUILTIN_SPECS``) or of a TOML spec file; ``energy``: an
    energy table or its TOML file (default: the shipped 28 nm table); ``mapping``: ``"search"``
    (default) or ``"fixed"``; ``objective``: ``"energy"`` (default), ``"latency"`` or ``"edp"``."""
    table = energy if isinstance(energy, EnergyTable) or energy is None else load_energy(energy)
    return model_for(load_spec(name_or_path), table, mapping=mapping, objective=objective)


__all__ = [
    "BUILTIN_SPECS",
    "COMPONENTS",
    "MAPPING_MODES",
    "OBJECTIVES",
    "Cost",
    "CostModel",
    "EnergyTable",
    "Mapping",
    "load",
    "load_energy",
    "load_spec",
    "model_for",
    "run_together",
    "with_core",
    "with_memory",
    "without_dtp",
]
