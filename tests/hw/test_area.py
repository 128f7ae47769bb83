"""The area table and each design's area from what its spec instantiates."""

from __future__ import annotations

from importlib import resources

import pytest
import torch

import panacea.hw as hw
from panacea.hw.area import AREA_COMPONENTS, PPU_LANES, load_area
from panacea.workload.build import gemm_workload

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


def test_panacea_area_by_hand():
    """16 PEAs x (4 DWO + 8 SWO) x 4 x 4 multipliers; per output position (16 per PEA) a 16-bit
    shifter per DWO, an 11-adder tree, two 32-bit S-ACCs (DTP) and two DBS shifters; two
    compensators per PEA (4 x 4 16-bit adders and 4 multipliers by r each)."""
    lg = load_area().logic
    area = hw.load("panacea").area_mm2()
    positions = 16 * 16
    assert area["multipliers"] == pytest.approx(positions * 12 * lg.mult_4x4 / 1e6)
    shifters = positions * (4 + 2) * 16 * lg.shifter_per_bit
    adders = positions * (11 * 16 + 2 * 32) * lg.adder_per_bit
    assert area["accumulators"] == pytest.approx((shifters + adders) / 1e6)
    assert area["compensators"] == pytest.approx(16 * 2 * (4 * 4 * 16 * lg.adder_per_bit + 4 * lg.mult_8x8) / 1e6)
    assert area["registers"] == pytest.approx(16 * 12 * 2 * 4 * 4 * lg.register_per_bit / 1e6)
    t = load_area()
    assert area["buffers"] == pytest.approx(16 * (t.sram.area(1) + t.sram.area(2)) + t.sram.area(16))


def test_dtp_costs_its_compensators_saccs_and_partial_sums():
    spec = hw.load_spec("panacea")
    with_dtp = hw.model_for(spec).area_mm2()
    off = hw.without_dtp(spec)
    assert (off.core.dtp, off.core.compensators_per_pea, off.core.psum_kb) == (False, 1, 1.0)
    assert hw.without_dtp(off) == off
    without = hw.model_for(off).area_mm2()
    assert with_dtp["multipliers"] == without["multipliers"]
    for component in ("compensators", "accumulators", "buffers"):
        assert with_dtp[component] > without[component], component


def test_dbs_costs_one_shifter_per_sacc_and_output_position():
    spec = hw.load_spec("panacea")
    with_dbs, without = (hw.model_for(hw.with_core(spec, dbs=dbs)).area_mm2() for dbs in (True, False))
    shifters = 16 * 2 * 16 * 16 * load_area().logic.shifter_per_bit / 1e6
    assert with_dbs["accumulators"] - without["accumulators"] == pytest.approx(shifters)
    assert {k: v for k, v in with_dbs.items() if k != "accumulators"} == {
        k: v for k, v in without.items() if k != "accumulators"
    }


def test_a_design_without_dbs_refuses_a_dbs_workload():
    model = hw.model_for(hw.with_core(hw.load_spec("panacea"), dbs=False))
    g = torch.Generator().manual_seed(0)
    x, w = torch.randint(0, 256, (16, 32), generator=g), torch.randint(-63, 64, (8, 32), generator=g)
    assert model.run(gemm_workload(x, w, 100, lo_bits=4)).cycles > 0
    with pytest.raises(ValueError, match=r"core\.dbs"):
        model.run(gemm_workload(x, w, 100, lo_bits=6))


def test_a_bad_area_table_is_one_error_naming_the_field(tmp_path):
    path = tmp_path / "area.toml"
    path.write_text(_table_text().replace("mult_4x4 = 39.3", "mult_4x4 = -1.0"))
    with pytest.raises(ValueError, match=r"logic\.mult_4x4"):
        load_area(path)
    with pytest.raises(ValueError, match="is not a file"):
        load_area(tmp_path / "missing.toml")
