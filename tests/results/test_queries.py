"""Which scheme stands for Panacea in a run: the first of the preferred ones it ran, else the first
asymmetric bit-slice one."""

from __future__ import annotations

from panacea.results.queries import MAIN_SCHEMES, main_scheme


def test_the_preferred_scheme_wins_in_preference_order():
    assert MAIN_SCHEMES[0] == "dbs"
    formats = {"asym": "bitslice-asym", "zpm": "bitslice-asym", "dbs": "bitslice-asym", "sym": "bitslice-sym"}
    assert main_scheme(formats) == "dbs"
    assert main_scheme({k: v for k, v in formats.items() if k != "dbs"}) == "zpm"


def test_a_scheme_of_ones_own_counts_when_no_preferred_one_ran():
    assert main_scheme({"sym": "bitslice-sym", "mine": "bitslice-asym", "aq": "arbitrary"}) == "mine"
    assert main_scheme({"sym": "bitslice-sym", "aq": "arbitrary"}) is None


def test_a_preferred_name_in_another_format_is_not_panaceas():
    assert main_scheme({"dbs": "bitslice-sym", "other": "bitslice-asym"}) == "other"
    assert main_scheme({"dbs": None}) == "dbs"  # results written before formats were recorded
