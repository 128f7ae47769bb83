"""Architecture specs: the shipped designs, user files, and errors that name the bad key."""

from __future__ import annotations

import pytest

from panacea.hw import BUILTIN_SPECS, load, load_spec, with_core

USER_SPEC = """
name = "My SIMD"
kind = "simd"
[memory]
wmem_kb = 32
amem_kb = 32
omem_kb = 16
[core]
units = 8
lanes = 8
"""


@pytest.mark.parametrize("name", [n for n in BUILTIN_SPECS if n != "aq-bitserial"])  # its own chip
def test_shipped_designs_have_the_papers_equal_resources(name):
    spec = load_spec(name)
    assert spec.multipliers_4b == 3072  # an 8b x 8b multiplier counts as four 4b x 4b
    assert spec.memory.dram_bits_per_cycle == 256
    assert spec.memory.sram_kb == 192
    assert spec.technology_nm == 28


def test_panacea_defaults_follow_the_paper():
    core = load_spec("panacea").core
    assert (core.peas, core.dwo_per_pea, core.swo_per_pea, core.vector) == (16, 4, 8, 4)
    assert (core.compensators_per_pea, core.index_bits, core.dtp) == (2, 4, True)


def test_a_user_spec_file_loads(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(USER_SPEC)
    model = load(path)
    assert model.name == "My SIMD" and model.spec.core.units == 8


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("units = 8", "units = 0"), "core.units: Input should be greater than or equal to 1"),
        (("lanes = 8", "lanes = 8\nbogus = 1"), "core.bogus: Extra inputs are not permitted"),
        (("wmem_kb = 32", "wmem_kb = 'big'"), "memory.wmem_kb: Input should be a valid number"),
        (('kind = "simd"', 'kind = "gpu"'), "kind: Input tag 'gpu'"),
        (('name = "My SIMD"', ""), "name: Field required"),
        (("[core]", "[core"), "not valid TOML"),
    ],
)
def test_bad_spec_files_name_the_key(tmp_path, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(USER_SPEC.replace(*edit))
    with pytest.raises(ValueError, match=r"^spec .*bad\.toml: ") as err:
        load_spec(path)
    assert message in str(err.value)


def test_unknown_names_and_missing_files_are_one_error():
    with pytest.raises(ValueError, match="neither a shipped design"):
        load_spec("tpu")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sub_tile_rows": 6}, "sub_tile_rows must be a multiple of vector"),
        ({"compensators_per_pea": 3}, "dtp needs an even compensators_per_pea"),
        ({"psum_kb": 1.0}, r"psum_kb=1\.0 cannot hold 2 x sub_tile_rows x tile_tokens"),
        ({"tile_k": 2**20}, r"must stay below 2\^24"),
    ],
)
def test_core_rules_are_checked_on_every_change(change, message):
    with pytest.raises(ValueError, match=message):
        with_core(load_spec("panacea"), **change)


def test_dtp_off_needs_half_the_partial_sums():
    spec = with_core(load_spec("panacea"), dtp=False, psum_kb=1.0)
    assert spec.core.partial_sums == 1
