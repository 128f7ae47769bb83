"""The 28 nm energy table: data with sources, SRAM energy by size, clear errors."""

from __future__ import annotations

import math
from importlib import resources

import pytest

from panacea.hw import load_energy

TABLE = resources.files("panacea.hw").joinpath("energy_28nm.toml").read_text()


def test_every_constant_cites_its_source():
    for line in TABLE.splitlines():
        if "=" in line and not line.startswith(("#", "[", "size_kb", "read_pj", "write_pj", "leakage_mw", "part")):
            assert "#" in line, f"constant without a source comment: {line}"


def test_sram_energy_is_the_cacti_row_at_a_listed_size_and_log_log_between():
    sram = load_energy().sram
    for kb, read, write in zip(sram.size_kb, sram.read_pj_bit, sram.write_pj_bit, strict=True):
        assert sram.read(kb) == pytest.approx(read)
        assert sram.write(kb) == pytest.approx(write)
    # halfway between 64 and 128 KB on a log scale: the geometric mean of the two rows
    mid = math.sqrt(64 * 128)
    assert sram.leakage(mid) == pytest.approx(math.sqrt(30.56 * 61.03))


def test_an_edited_table_is_used(tmp_path):
    path = tmp_path / "e.toml"
    path.write_text(TABLE.replace("pj_per_bit = 3.7 ", "pj_per_bit = 7.4 "))
    assert load_energy(path).dram.pj_per_bit == 7.4


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("mult_4x4 = 0.0185", "mult_4x4 = -1"), "logic.mult_4x4: Input should be greater than 0"),
        (("[registers]", "[registers]\nextra = 1"), "registers.extra: Extra inputs are not permitted"),
        (("size_kb =       [0.5,", "size_kb =       [0.4, 0.5,"), "need the same length"),
    ],
)
def test_bad_tables_name_the_key(tmp_path, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(TABLE.replace(*edit))
    with pytest.raises(ValueError, match=message):
        load_energy(path)


def test_a_missing_table_is_one_error(tmp_path):
    with pytest.raises(ValueError, match="is not a file"):
        load_energy(tmp_path / "none.toml")
