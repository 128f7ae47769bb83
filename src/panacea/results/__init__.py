"""Run records (what ``panacea evaluate`` and ``panacea reproduce`` write, validated on load), the
paper's claims as data, and the queries the flows and the reports ask of them."""

from panacea.results.schema import RESULTS_NAME, SCHEMA_VERSION, CostRecord, LayerCost, Results, SchemeRecord

__all__ = ["RESULTS_NAME", "SCHEMA_VERSION", "CostRecord", "LayerCost", "Results", "SchemeRecord"]
