"""Model-side helpers: finding GEMMs, running models, loading the shipped and hub models."""

from panacea.models.gemms import GemmInventory, GemmSite, find_gemms

__all__ = ["GemmInventory", "GemmSite", "find_gemms"]
