"""The one error of every loader (:func:`panacea.core.checks.input_error` and the pydantic
conversions on it): one line naming the file and the field, the offending value escaped and
shortened, whatever characters the value, the keys or the file's name hold."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from panacea.core.checks import escaped, first_error, input_error, invalid_file, parse_toml, shown, validated

# Characters that would break a one-line message, or a terminal: line breaks of every kind, tab,
# NUL, ESC (colour codes), DEL, C1 controls, and a lone surrogate (bytes that were not UTF-8).
CONTROL = ["\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\x85", "\u2028", "\udcff"]


def assert_one_line(message: str, *parts: str) -> None:
    assert message.isprintable(), repr(message)  # no control character, no line break, no surrogate
    assert len(message) <= 2100, len(message)
    for part in parts:
        assert part in message, (part, message)


# --------------------------------------------------------------------------- shown values


@pytest.mark.parametrize("char", CONTROL)
def test_a_control_character_is_shown_escaped(char):
    assert shown(char) == repr(char) and shown(char).isprintable()
    assert shown(f"a{char}b") == repr(f"a{char}b")


def test_values_are_shown_as_repr():
    assert shown("\n") == r"'\n'"
    assert shown("kind\x1b[31m") == r"'kind\x1b[31m'"
    assert shown(7) == "7" and shown(7.0) == "7.0" and shown(None) == "None" and shown(float("nan")) == "nan"
    assert shown(["a", "\t"]) == r"['a', '\t']"
    assert shown(b"\xff\xfe") == r"b'\xff\xfe'"


def test_a_long_value_is_shortened_with_its_length():
    text = shown("x" * 100_000)
    assert text == "'" + "x" * 77 + "'... (100000 characters)"
    assert shown(b"y" * 500).endswith("... (500 bytes)")
    assert shown(list(range(10_000))).endswith("... (10000 items)") and len(shown(list(range(10_000)))) < 100
    escapes = shown("\x00" * 1000)  # escapes take 4 characters each: fewer of them fit
    assert escapes.endswith("... (1000 characters)") and len(escapes) < 110 and escapes.isprintable()


@given(st.one_of(st.text(), st.binary(), st.lists(st.text()), st.dictionaries(st.text(), st.text())))
@example("\n")
@example("x" * 100_000)
@example("\udcff" * 300)
def test_any_value_is_shown_on_one_short_line(value):
    text = shown(value)
    assert text.isprintable() and len(text) <= 110, text


def test_escaped_leaves_printable_text_alone():
    assert escaped("core.peas: Input should be 'é' or 'ü'") == "core.peas: Input should be 'é' or 'ü'"
    assert escaped("a\nb\tc\x1bd") == r"a\nb\tc\x1bd"


# --------------------------------------------------------------------------- input_error


def test_the_wording():
    err = input_error("spec my.toml", "must be one of [1, 2]", field="core.peas", got=3)
    assert str(err) == "spec my.toml: core.peas: must be one of [1, 2], got 3"
    assert str(input_error("f.json", "missing", field=("layers", 3, "name"))) == "f.json: layers.3.name: missing"
    assert str(input_error("f.toml", "not valid TOML: Unclosed array")) == "f.toml: not valid TOML: Unclosed array"
    assert str(input_error(None, "unknown field", field="workloads.main.0.x")) == "workloads.main.0.x: unknown field"
    assert isinstance(err, ValueError)


def test_every_part_is_escaped():
    """A user's file name and keys are as free as its values."""
    err = input_error("/tmp/a\nb.toml", "unknown field", field=("core", "pe\tas"), got="\x1b[2J")
    assert str(err) == r"/tmp/a\nb.toml: core.pe\tas: unknown field, got '\x1b[2J'"


def test_a_long_message_is_cut():
    """A validator's own text may quote a value in full: the whole message is bounded too."""
    message = str(input_error("f.toml", "names " + "n" * 100_000, field="x"))
    assert_one_line(message, "f.toml: x: names nnn", "... (100017 characters)")


# --------------------------------------------------------------------------- pydantic errors


class Core(BaseModel):
    model_config = ConfigDict(extra="forbid")
    peas: int = Field(ge=1)
    names: list[str] = Field(default_factory=list)

    @field_validator("names")
    @classmethod
    def _distinct(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names):
            raise ValueError(f"{len(names) - 1}: {names[-1]!r} appears twice")
        return names


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["panacea"]
    core: Core


class Other(BaseModel):
    kind: Literal["sibia"]


SPECS = TypeAdapter(Annotated[Spec | Other, Field(discriminator="kind")])


def _error(data: object, adapter=SPECS) -> ValidationError:
    with pytest.raises(ValidationError) as err:
        adapter.validate_python(data)
    return err.value


@pytest.mark.parametrize("kind", CONTROL)
def test_an_unknown_tag_is_named_escaped(kind):
    """``kind = "\\n"``: pydantic's own message quotes the tag raw; ours escapes it."""
    message = str(invalid_file("spec my.toml", _error({"kind": kind})))
    assert_one_line(message, "spec my.toml: kind: Input tag ", repr(kind), "does not match any of the expected tags")


def test_a_missing_tag_is_the_tag_field():
    assert str(invalid_file("s.toml", _error({}))) == "s.toml: kind: Unable to extract tag using discriminator 'kind'"


NOT_AN_INT = "Input should be a valid integer, unable to parse string as an integer"


def test_a_tag_in_the_path_is_dropped():
    err = _error({"kind": "panacea", "core": {"peas": "many\n"}})
    assert str(invalid_file("s.toml", err)) == f"s.toml: panacea.core.peas: {NOT_AN_INT}, got 'many\\n'"
    assert (
        str(invalid_file("s.toml", err, tags=("panacea", "sibia"))) == f"s.toml: core.peas: {NOT_AN_INT}, got 'many\\n'"
    )


def test_the_offending_value_follows_pydantics_message():
    err = _error({"kind": "panacea", "core": {"peas": 0}})
    assert first_error(err) == ("panacea.core.peas", "Input should be greater than or equal to 1, got 0")
    err = _error({"kind": "panacea", "core": {"peas": 1, "hue\x1b": 2}})
    assert first_error(err) == (r"panacea.core.hue\x1b", "Extra inputs are not permitted")  # the key is named
    err = _error({"kind": "panacea"})
    assert first_error(err) == ("panacea.core", "Field required")


def test_a_validator_naming_a_field_below_its_own():
    err = _error({"kind": "panacea", "core": {"peas": 1, "names": ["a", "x" * 5000, "x" * 5000]}})
    where, message = first_error(err, tags=("panacea",))
    assert where == "core.names.2"
    assert_one_line(message, "appears twice")
    assert len(message) < 2100  # the validator quoted 5,000 characters; the message is bounded


def test_the_document_itself():
    assert first_error(_error([1, 2]))[0] == "(top level)"
    message = str(invalid_file("f.json", _error([1, 2])))
    assert message == "f.json: Input should be a valid dictionary or object to extract fields from, got [1, 2]"


def test_what_the_file_is_comes_before_the_field():
    err = _error({"kind": "panacea", "core": {"peas": "\t"}})
    message = str(invalid_file("/r/results.json", err, "not a valid results file", tags=("panacea",)))
    assert message == f"/r/results.json: not a valid results file: core.peas: {NOT_AN_INT}, got '\\t'"


def test_validated_is_strict_and_names_where():
    with pytest.raises(ValueError, match=r"^space s.toml: core.peas: Input should be a valid integer, got '16'$"):
        validated(Spec, {"kind": "panacea", "core": {"peas": "16"}}, "space s.toml")
    with pytest.raises(ValueError) as err:
        validated(Spec, {"kind": "panacea", "core": {"peas": "x" * 100_000}}, "s.toml")
    assert_one_line(str(err.value), "s.toml: core.peas: ", "... (100000 characters)")


def test_parse_toml_names_where():
    with pytest.raises(ValueError, match=r"^spec s.toml: not valid TOML: ") as err:
        parse_toml('kind = "a\x00"', "spec s.toml")
    assert_one_line(str(err.value))


@given(value=st.one_of(st.text(), st.integers(), st.floats(), st.lists(st.text(), max_size=3)), key=st.text())
@example(value="\n", key="peas")
@example(value="x" * 100_000, key="peas")
@example(value=1, key="\x1b[31m" * 1000)
def test_any_bad_value_or_key_gives_one_short_line(value, key):
    data = {"kind": "panacea", "core": {"peas": value, key: value} if key != "names" else {"peas": value}}
    try:
        validated(Spec, data, "spec s.toml")
    except ValueError as err:
        assert_one_line(str(err), "spec s.toml: ")
