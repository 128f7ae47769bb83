"""The area table and each design's area from what its spec instantiates (issue 14, WIP)."""

from __future__ import annotations

from importlib import resources

import pytest

import panacea.hw as hw
from panacea.hw.area import AREA_COMPONENTS, PPU_LANES, load_area

DESIGNS = ("panacea", "sibia", "sa-ws", "sa-os", "simd", "aq-bitserial")


def test_sa_os_area_by_hand():
    t = load_area()
    lg = t.logic
    pes = 32 * 24
    area = hw.load("sa-os").area_mm2()
    assert area["multipliers"] == pytest.approx(pes * lg.mult_8x8 / 1e6)
    assert area["accumulators"] == pytest.approx(pes * 32 * lg.adder_per_bit / 1e6)
    assert area["registers"] == pytest.approx(pes * (8 + 8 + 32) * lg.register_per_bit / 1e6)
    assert area["sram"] == pytest.approx(t.sram.area(96) + t.sram.area(64) + t.sram.area(32))
    ppu = PPU_LANES * (
        4 * lg.mult_8x8 + 2 * 32 * lg.adder_per_bit + 8 * lg.comparator_per_bit + 32 * lg.register_per_bit
    )
    assert area["post_processing"] == pytest.approx(ppu / 1e6)
    assert area["buffers"] == area["compensators"] == area["index_decoding"] == 0


def test_sram_rows_are_exact_and_between_them_log_log():
    t = load_area()
    assert t.sram.area(64) == pytest.approx(0.0876)
    assert t.sram.area(16) < t.sram.area(24) < t.sram.area(32)


def _table_text() -> str:
    return resources.files("panacea.hw").joinpath("area_28nm.toml").read_text()


@pytest.mark.parametrize("design", DESIGNS)
def test_editing_one_table_entry_changes_only_what_it_prices(design, tmp_path):
    path = tmp_path / "area.toml"
    path.write_text(_table_text().replace("mult_4x4 = 39.3", "mult_4x4 = 78.6"))
    model = hw.load(design)
    base, edited = model.area_mm2(), model.area_mm2(load_area(path))
    bit_slice = design in ("panacea", "sibia")
    for component in AREA_COMPONENTS:
        if component == "multipliers" and bit_slice:  # only the bit-slice cores have 4b x 4b ones
            assert edited[component] == pytest.approx(2 * base[component])
        else:
            assert edited[component] == base[component], component


def test_dtp_costs_its_compensators_saccs_and_partial_sums():
    spec = hw.load_spec("panacea")
    with_dtp = hw.model_for(spec).area_mm2()
    without = hw.model_for(hw.with_core(spec, dtp=False, compensators_per_pea=1, psum_kb=1.0)).area_mm2()
    assert with_dtp["multipliers"] == without["multipliers"]
    for component in ("compensators", "accumulators", "buffers"):
        assert with_dtp[component] > without[component], component


def test_a_bad_area_table_is_one_error_naming_the_field(tmp_path):
    path = tmp_path / "area.toml"
    path.write_text(_table_text().replace("mult_4x4 = 39.3", "mult_4x4 = -1.0"))
    with pytest.raises(ValueError, match=r"logic\.mult_4x4"):
        load_area(path)
    with pytest.raises(ValueError, match="is not a file"):
        load_area(tmp_path / "missing.toml")
