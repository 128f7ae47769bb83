"""Schemes and profiles as data: the shipped files, validation of bad files, and resolution."""

from __future__ import annotations

import pytest

from panacea.quant import CalibrationConfig, LayerOverride
from panacea.quant.arbitrary import AQConfig
from panacea.schemes import (
    SHIPPED_PROFILES,
    SHIPPED_SCHEMES,
    BitSliceScheme,
    load_profile,
    load_scheme,
    resolve,
)

LLAMA = (LayerOverride(pattern="*.mlp.down_proj", x_bits=12),)
GPT2 = (LayerOverride(pattern="*.mlp.*", w_bits=10),)
# The schemes as they were written in code before they became data: under the accurate profile the
# shipped files must give exactly these configurations (the same recipes, the same numbers).
BEFORE = {
    "sym": CalibrationConfig(scheme="sym", zpm="off", dbs=False),
    "asym": CalibrationConfig(zpm="off", dbs=False),
    "zpm-paper": CalibrationConfig(zpm="paper", dbs=False),
    "zpm": CalibrationConfig(dbs=False),
    "dbs": CalibrationConfig(),
    "optq4": CalibrationConfig(w_bits=4, w_granularity="group", w_group_size=64, optq=True),
}


def test_shipped_schemes_and_profiles_load():
    assert set(BEFORE) | {"sym-optq4", "aq"} == set(SHIPPED_SCHEMES)
    assert set(SHIPPED_PROFILES) == {"accurate", "paper"}
    formats = {n: load_scheme(n).format for n in SHIPPED_SCHEMES}
    assert formats["sym"] == formats["sym-optq4"] == "bitslice-sym" and formats["aq"] == "arbitrary"
    assert {formats[n] for n in ("asym", "zpm-paper", "zpm", "dbs", "optq4")} == {"bitslice-asym"}
    assert load_scheme("aq").calibration == AQConfig()


@pytest.mark.parametrize("name", list(BEFORE))
@pytest.mark.parametrize(("model_type", "overrides"), [("llama", LLAMA), ("gpt2", GPT2), ("bert", ()), (None, ())])
def test_the_accurate_profile_gives_the_configurations_of_before(name, model_type, overrides):
    scheme = resolve(load_scheme(name), load_profile("accurate"), model_type)
    assert scheme.calibration == BEFORE[name].model_copy(update={"overrides": overrides})
    plain = resolve(load_scheme(name), load_profile("accurate"), model_type, architecture_overrides=False)
    assert plain.calibration == BEFORE[name]


def test_the_paper_profile_and_changes_fill_only_what_a_scheme_leaves_unset():
    paper = load_profile("paper")
    dbs, optq4 = (resolve(load_scheme(n), paper, "llama") for n in ("dbs", "optq4"))
    assert (dbs.calibration.w_granularity, dbs.calibration.w_group_size) == ("tensor", None)
    assert (optq4.calibration.w_granularity, optq4.calibration.w_group_size) == ("group", 64)  # its own
    assert dbs.calibration.overrides == LLAMA
    changed = resolve(load_scheme("dbs"), paper, "llama", {"dbs_target": 0.6, "w_granularity": "channel"})
    assert (changed.calibration.dbs_target, changed.calibration.w_granularity) == (0.6, "channel")
    kept = resolve(load_scheme("optq4"), paper, None, {"w_bits": 7, "w_granularity": "tensor"})
    assert (kept.calibration.w_bits, kept.calibration.w_granularity) == (4, "group")  # optq4 fixes both
    assert resolve(load_scheme("aq"), paper, "llama") == load_scheme("aq")  # codebooks: no bit-slice fields
    with pytest.raises(ValueError, match=r"scheme asym under profile paper with .*w_group_size is required"):
        resolve(load_scheme("asym"), paper, None, {"w_granularity": "group"})


def test_every_choice_of_the_shipped_profiles_has_its_reason():
    for name in SHIPPED_PROFILES:
        p = load_profile(name)
        assert set(p.why) == {f"defaults.{k}" for k in p.defaults} | {f"architectures.{a}" for a in p.architectures}
    paper = load_profile("paper")
    assert "'have varying vector sparsity'" in paper.why["defaults.w_granularity"]  # the paper's own words


GOOD_SCHEME = 'name = "mine"\nlabel = "my scheme"\nformat = "bitslice-asym"\n[calibration]\ndbs_target = 0.6\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD_SCHEME + "w_bits = 8\n", "calibration.w_bits: w_bits must be one of [4, 7, 10]"),
        (GOOD_SCHEME + "x_bits = 16\n", "calibration.x_bits: x_bits must be one of [8, 12]"),
        (GOOD_SCHEME + "w_bits = 7.0\n", "calibration.w_bits: Input should be a valid integer"),
        (GOOD_SCHEME + "w_bits = '7'\n", "calibration.w_bits: Input should be a valid integer"),
        (GOOD_SCHEME + "colour = 'red'\n", "calibration.colour: Extra inputs are not permitted"),
        (GOOD_SCHEME + "scheme = 'sym'\n", "calibration.scheme: format 'bitslice-asym' decides the activations"),
        (GOOD_SCHEME + "w_granularity = 'group'\n", "w_group_size is required with w_granularity 'group'"),
        (GOOD_SCHEME.replace("bitslice-asym", "bitslice-sym") + "zpm = 'search'\n", "scheme 'sym' has no zero point"),
        (GOOD_SCHEME.replace("bitslice-asym", "int8"), "format: must be one of ['bitslice-asym', 'bitslice-sym'"),
        (GOOD_SCHEME.replace('name = "mine"', 'name = "My Scheme"'), "name: String should match pattern"),
        (GOOD_SCHEME.replace('label = "my scheme"\n', ""), "label: Field required"),
        (GOOD_SCHEME + "[extra]\n", "extra: Extra inputs are not permitted"),
        (GOOD_SCHEME.replace("[calibration]\ndbs_target = 0.6", "calibration = 3"), "calibration: Input should be"),
        ('format = "arbitrary"\nname = "a"\nlabel = "a"\n[calibration]\nw_bits = 9\n', "calibration.w_bits:"),
        (GOOD_SCHEME + "dbs_target = [", "not valid TOML"),
    ],
)
def test_a_bad_scheme_file_gives_one_error_naming_the_file_and_field(tmp_path, text, message):
    _assert_one_line(load_scheme, "scheme", tmp_path, text, message)


def _assert_one_line(loader, kind: str, tmp_path, text: str, message: str) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        loader(path)
    line = str(err.value)
    assert line.startswith(f"{kind} {path}: ") and "\n" not in line
    assert message in line


def test_a_good_scheme_file_loads(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(GOOD_SCHEME)
    scheme = load_scheme(path)
    assert isinstance(scheme, BitSliceScheme) and scheme.calibration.dbs_target == 0.6
    assert scheme.calibration.model_fields_set == {"scheme", "dbs_target"}
    with pytest.raises(ValueError, match=r"scheme 'nope' is neither a shipped scheme \['aq'"):
        load_scheme("nope")


GOOD_PROFILE = """name = "mine"
description = "mine"
[defaults]
w_granularity = "tensor"
[architectures]
gpt2 = [{ pattern = "*.mlp.*", w_bits = 10 }]
[why]
"defaults.w_granularity" = "because"
"architectures.gpt2" = "because"
"""


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('w_granularity = "tensor"', 'w_granularity = "row"'), "defaults.w_granularity: Input"),
        (lambda t: t.replace('w_granularity = "tensor"', "w_bits = 8"), "defaults.w_bits: w_bits must be one of"),
        (lambda t: t.replace('w_granularity = "tensor"', "shade = 1"), "defaults.shade: not a calibration field"),
        (lambda t: t.replace('w_granularity = "tensor"', 'scheme = "sym"'), "defaults.scheme: not a calibration"),
        (lambda t: t.replace("w_bits = 10", "w_bits = 5"), "architectures.gpt2.0.w_bits: w_bits must be one of"),
        (lambda t: t.replace('"defaults.w_granularity" = "because"\n', ""), "'defaults.w_granularity' has no reason"),
        (lambda t: t + '"defaults.dbs" = "x"\n', "'defaults.dbs' is no choice of this profile"),
        (lambda t: t + "[more]\n", "more: Extra inputs are not permitted"),
    ],
)
def test_a_bad_profile_file_gives_one_error_naming_the_file_and_field(tmp_path, edit, message):
    _assert_one_line(load_profile, "profile", tmp_path, edit(GOOD_PROFILE), message)


def test_a_good_profile_file_loads(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(GOOD_PROFILE)
    profile = load_profile(path)
    assert profile.defaults == {"w_granularity": "tensor"} and profile.overrides("gpt2") == GPT2
    assert profile.overrides("llama") == () and profile.overrides(None) == ()
