"""The parsers of option text: lists, ``KEY=VALUE`` changes, GEMM shapes and sparsity levels; a bad
value is one line on stderr, exit 2."""

from __future__ import annotations

import pytest
import typer

from panacea.cli import _options as opt


def _fails(capsys, call, *args) -> str:
    with pytest.raises(typer.Exit) as exit_:
        call(*args)
    assert exit_.value.exit_code == 2
    return capsys.readouterr().err


def test_names_are_stripped_and_empty_items_dropped():
    assert opt.names(" sym, dbs,,aq ,") == ("sym", "dbs", "aq")
    assert opt.names("") == ()


def test_assignments_read_values_as_toml_else_as_text():
    changes = opt.assignments(["dbs_target=0.75", " dbs = true", "w_granularity=tensor", 'name="x"'])
    assert changes == {"dbs_target": 0.75, "dbs": True, "w_granularity": "tensor", "name": "x"}


@pytest.mark.parametrize("item", ["dbs_target", "=0.75"])
def test_an_assignment_without_key_or_sign_is_one_line(capsys, item):
    assert _fails(capsys, opt.assignments, [item]) == f"error: --set takes KEY=VALUE, got {item!r}\n"


def test_shape_reads_tokens_in_out():
    assert opt.shape("1024X768x3072", "shape") == (1024, 768, 3072)


@pytest.mark.parametrize("text", ["12x3", "0x1x1", "axbxc", "1x2x3x4"])
def test_a_bad_shape_names_the_option(capsys, text):
    err = _fails(capsys, opt.shape, text, "size 'big'")
    assert err == f"error: size 'big' must look like NxKxM with positive integers (tokens x in x out), got {text!r}\n"


def test_fractions_are_comma_separated_numbers_in_the_unit_interval(capsys):
    assert opt.fractions("0, 0.5,,1", "levels") == [0.0, 0.5, 1.0]
    not_numbers = _fails(capsys, opt.fractions, "0,a", "levels")
    assert not_numbers == "error: levels must be comma-separated numbers, got '0,a'\n"
    assert "in [0, 1], got '1.5'" in _fails(capsys, opt.fractions, "1.5", "levels")
    assert "in [0, 1], got ''" in _fails(capsys, opt.fractions, "", "levels")


def test_a_bad_mapping_choice_names_its_option(capsys):
    opt.check_mapping("fixed", "latency")
    assert _fails(capsys, opt.check_mapping, "best", "energy").startswith("error: --mapping must be one of")
