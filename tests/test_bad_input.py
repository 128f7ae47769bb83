"""Bad input, fuzzed: every loader a user can point at a file gets malformed data.

The files: accelerator specs and energy tables (TOML), scheme and profile files (TOML), ``QuantRecipe``
directories, ``results.json``,
the cache entries of ``panacea evaluate`` and text data files. Each is fed (1) mutations of a
valid document, at every key: a value replaced by one of another type or range (text, booleans,
integers up to 2^70 in magnitude, NaN and infinities, lists, tables), a key deleted, an unknown
key added; (2) damaged bytes: truncated at any point, bytes flipped, random bytes, text that is
not UTF-8; and for JSON, nesting deeper than the parser's recursion limit. A bad input must give
one ``ValueError`` (or ``OSError``) on one line that names the file and the field; an input that
loads must then work (be costed, quantize a model, render a report) or fail the same clear way.
"""

from __future__ import annotations

import copy
import json
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import pytest
import tomli_w
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from tiny_models import save_tiny_llama, tiny_llama, token_batches
from typer.testing import CliRunner

import panacea.hw as hw
from panacea.cli import app
from panacea.flows.cache import load_capture, load_metrics
from panacea.flows.evaluate import EvaluateConfig, evaluate
from panacea.hw.bitserial import synthetic_aq_workload
from panacea.quant import QuantRecipe, calibrate, quantized
from panacea.results import Results
from panacea.schemes import SHIPPED_SCHEMES, load_profile, load_scheme, resolve
from panacea.tasks.task import _text
from panacea.workload.build import synthetic_workload

# ----------------------------------------------------------------------------------------------
# Mutations of a nested document (TOML or JSON), at every key path


def _paths(doc, prefix=()) -> list[tuple]:
    """Every key path of a nested document: tables, lists and leaves."""
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    out = []
    for key, value in items:
        out += [(*prefix, key), *_paths(value, (*prefix, key))]
    return out


def _get(doc, path):
    for key in path:
        doc = doc[key]
    return doc


def _junk(toml: bool) -> st.SearchStrategy:
    """Values of every kind a field should not get (and some it may): TOML has no null."""
    scalars = [
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.sampled_from([0, -1, 1, 3, 2**31, 2**63]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([float("nan"), float("inf"), -float("inf"), 0.0, -0.5, 1e300]),
        st.text(max_size=6),
    ]
    if not toml:
        scalars.append(st.none())
    leaf = st.one_of(*scalars)
    return st.one_of(
        leaf, st.lists(leaf, max_size=3), st.dictionaries(st.text("abc", min_size=1, max_size=3), leaf, max_size=2)
    )


@st.composite
def mutations(draw, doc, toml: bool) -> tuple[str, tuple, object]:
    """(operation, key path, value): ``set`` a value, ``delete`` a key, ``add`` an unknown key."""
    paths = _paths(doc)
    op = draw(st.sampled_from(["set", "set", "delete", "add"]))
    if op == "add":
        tables = [(), *(p for p in paths if isinstance(_get(doc, p), dict))]
        where = draw(st.sampled_from(tables))
        return op, (*where, draw(st.text("xyz_", min_size=1, max_size=6))), draw(_junk(toml))
    path = draw(st.sampled_from(paths))
    return op, path, draw(_junk(toml)) if op == "set" else None


def _mutated(doc, mutation):
    op, path, value = mutation
    doc = copy.deepcopy(doc)
    parent = _get(doc, path[:-1])
    if op == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


def _field(path: tuple) -> tuple:
    """The key path a message should name: list positions belong to their list's key."""
    while path and isinstance(path[-1], int):
        path = path[:-1]
    return path


def assert_clear(err: BaseException, file: Path | str, field: tuple | None = None) -> None:
    """One line that names the file and, for a mutated key, the field (or its table and name): no
    raw control character or unbounded value in it (core.checks.input_error escapes and shortens)."""
    message = str(err)
    assert isinstance(err, ValueError | OSError), f"{type(err).__name__}: {message}"
    assert message.isprintable(), repr(message)  # no line break, tab, NUL, ESC, lone surrogate
    assert len(message) <= 2100, len(message)
    assert str(file) in message, (message, str(file))
    field = _field(field or ())
    if field:
        dotted, parent = ".".join(map(str, field)), ".".join(map(str, field[:-1]))
        assert dotted in message or (str(field[-1]) in message and parent in message), (message, dotted)


@st.composite
def damaged(draw, blob: bytes) -> bytes:
    """The bytes of a valid file, damaged: truncated, some bytes flipped, or replaced entirely."""
    how = draw(st.sampled_from(["truncate", "flip", "random", "not-utf8"]))
    if how == "truncate":
        return blob[: draw(st.integers(0, max(len(blob) - 1, 0)))]
    if how == "flip":
        data = bytearray(blob)
        for i in draw(st.lists(st.integers(0, len(blob) - 1), min_size=1, max_size=8)):
            data[i] ^= draw(st.integers(1, 255))
        return bytes(data)
    if how == "random":
        return draw(st.binary(max_size=256))
    i = draw(st.integers(0, len(blob)))
    return blob[:i] + b"\xff\xfe" + blob[i:]  # never valid UTF-8


@contextmanager
def _scratch() -> Iterator[Path]:
    # hypothesis runs many examples per test: a fresh directory each (pytest's tmp_path is one per test)
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


# Examples per test: the profile's (conftest.py; HYPOTHESIS_PROFILE=thorough for a long soak).
FUZZ = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
RENDERS = settings(FUZZ, max_examples=max(10, settings().max_examples // 4))  # each renders 4 plots

# ----------------------------------------------------------------------------------------------
# Accelerator specs and energy tables (TOML)

SPEC_TEXT = {n: resources.files("panacea.hw").joinpath("specs", f"{n}.toml").read_text() for n in hw.BUILTIN_SPECS}
SPECS = {n: tomllib.loads(t) for n, t in SPEC_TEXT.items()}
ENERGY_TEXT = resources.files("panacea.hw").joinpath("energy_28nm.toml").read_text()
ENERGY = tomllib.loads(ENERGY_TEXT)


def _cost_once(model: hw.CostModel):
    """A loaded design must cost a small GEMM, or refuse it in one clear line."""
    if model.spec.kind == "bitserial":
        workload = synthetic_aq_workload(4, 0.3, n=16, k=64, m=16, block=64, run_bits=4)
    else:
        scheme = "sym" if model.spec.kind == "sibia" else "asym"
        workload = synthetic_workload(16, 32, 16, act_sparsity=0.5, weight_sparsity=0.5, scheme=scheme)
    try:
        cost = model.run(workload)
    except ValueError as err:
        assert "\n" not in str(err), str(err)
        return
    assert cost.cycles > 0 and cost.energy_j > 0


@FUZZ
@given(data=st.data(), name=st.sampled_from(hw.BUILTIN_SPECS))
def test_spec_mutated_at_any_key(data, name):
    mutation = data.draw(mutations(SPECS[name], toml=True))
    with _scratch() as d:
        path = d / "spec.toml"
        path.write_text(tomli_w.dumps(_mutated(SPECS[name], mutation)))
        try:
            spec = hw.load_spec(path)
        except Exception as err:
            # a changed kind makes the other keys wrong: any of them may be the one named
            assert_clear(err, path, None if mutation[1] == ("kind",) else mutation[1])
            return
    _cost_once(hw.model_for(spec))


@FUZZ
@given(data=st.data(), name=st.sampled_from(hw.BUILTIN_SPECS))
def test_spec_with_damaged_bytes(data, name):
    with _scratch() as d:
        path = d / "spec.toml"
        path.write_bytes(data.draw(damaged(SPEC_TEXT[name].encode())))
        try:
            spec = hw.load_spec(path)
        except Exception as err:
            assert_clear(err, path)
            return
    _cost_once(hw.model_for(spec))


@FUZZ
@given(data=st.data())
def test_energy_table_mutated_at_any_key(data):
    mutation = data.draw(mutations(ENERGY, toml=True))
    with _scratch() as d:
        path = d / "energy.toml"
        path.write_text(tomli_w.dumps(_mutated(ENERGY, mutation)))
        try:
            table = hw.load_energy(path)
        except Exception as err:
            assert_clear(err, path, mutation[1])
            return
    for name in ("panacea", "sa-os"):
        _cost_once(hw.load(name, table))


@FUZZ
@given(data=st.data())
def test_energy_table_with_damaged_bytes(data):
    with _scratch() as d:
        path = d / "energy.toml"
        path.write_bytes(data.draw(damaged(ENERGY_TEXT.encode())))
        try:
            table = hw.load_energy(path)
        except Exception as err:
            assert_clear(err, path)
            return
    _cost_once(hw.load("panacea", table))


def test_toml_that_is_not_a_file_or_not_readable(tmp_path):
    for loader in (hw.load_spec, hw.load_energy):
        for bad in (tmp_path, tmp_path / "missing.toml"):
            with pytest.raises(ValueError) as err:
                loader(bad)
            assert_clear(err.value, bad)


# ----------------------------------------------------------------------------------------------
# Scheme and profile files (TOML)


def _shipped_toml(folder: str) -> dict[str, str]:
    files = resources.files("panacea.schemes").joinpath(folder).iterdir()
    return {f.name.removesuffix(".toml"): f.read_text() for f in files if f.name.endswith(".toml")}


SCHEME_TEXT, PROFILE_TEXT = _shipped_toml("shipped"), _shipped_toml("profiles")


def _resolve_all(scheme=None, profile=None) -> None:
    """A loaded scheme or profile must resolve (for two architectures), or refuse in one line."""
    schemes = [scheme] if scheme is not None else [load_scheme(n) for n in SHIPPED_SCHEMES]
    for s in schemes:
        for model_type in ("llama", "gpt2"):
            try:
                resolved = resolve(s, profile or load_profile("accurate"), model_type)
            except ValueError as err:
                assert "\n" not in str(err), str(err)
                continue
            assert resolved.name == s.name


SCHEME_FILES = {"scheme": (SCHEME_TEXT, load_scheme), "profile": (PROFILE_TEXT, load_profile)}


@FUZZ
@given(data=st.data(), kind=st.sampled_from(sorted(SCHEME_FILES)), damage=st.booleans())
def test_scheme_or_profile_file_mutated_or_damaged(data, kind, damage):
    texts, loader = SCHEME_FILES[kind]
    text = texts[data.draw(st.sampled_from(sorted(texts)))]
    mutation = None if damage else data.draw(mutations(tomllib.loads(text), toml=True))
    with _scratch() as d:
        path = d / f"{kind}.toml"
        if damage:
            path.write_bytes(data.draw(damaged(text.encode())))
        else:
            path.write_text(tomli_w.dumps(_mutated(tomllib.loads(text), mutation)))
        try:
            loaded = loader(path)
        except Exception as err:
            # a scheme's changed format makes its other keys wrong: any of them may be the one named
            assert_clear(err, path, None if damage or mutation[1] == ("format",) else mutation[1])
            return
    _resolve_all(**{kind: loaded})


# ----------------------------------------------------------------------------------------------
# Control characters, long values and bytes that are not UTF-8, in every kind of file

# Values a fuzzer draws rarely: every control character a one-line message must escape, a value of
# 100 kB, and bytes that are not UTF-8. The kind "\n" once made the spec's error two lines.
CONTROL = ["\n", "\r\n", "\t", "\x00", "\x1b[31m", "\x7f", "\x85", "\u2028"]


@pytest.mark.parametrize("value", CONTROL)
@pytest.mark.parametrize("key", [("kind",), ("name",), ("core", "peas"), ("memory", "wmem_kb")])
def test_spec_with_a_control_character_at_a_key(tmp_path, key, value):
    path = tmp_path / "spec.toml"
    path.write_text(tomli_w.dumps(_mutated(SPECS["panacea"], ("set", key, value))))
    try:
        hw.load_spec(path)
    except ValueError as err:
        assert_clear(err, path, key)
        assert repr(value)[1:-1] in str(err) or key == ("name",), str(err)
        return
    assert key == ("name",)  # a name may hold any text


def test_spec_kind_newline_is_one_line(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(tomli_w.dumps({**SPECS["panacea"], "kind": "\n"}))
    with pytest.raises(ValueError) as err:
        hw.load_spec(path)
    assert str(err.value) == (
        f"spec {path}: kind: Input tag '\\n' found using 'kind' does not match any of the expected tags: "
        "'panacea', 'sibia', 'systolic', 'simd', 'bitserial'"
    )


@pytest.mark.parametrize(
    ("key", "loader", "doc"),
    [
        (("core", "peas"), hw.load_spec, SPECS["panacea"]),
        (("logic", "mult_4x4"), hw.load_energy, ENERGY),
        (("calibration", "w_bits"), load_scheme, tomllib.loads(SCHEME_TEXT["dbs"])),
    ],
)
def test_a_100_kb_value_is_shortened(tmp_path, key, loader, doc):
    path = tmp_path / "file.toml"
    path.write_text(tomli_w.dumps(_mutated(doc, ("set", key, "x\n" * 50_000))))
    with pytest.raises(ValueError) as err:
        loader(path)
    assert_clear(err.value, path, key)
    assert "... (100000 characters)" in str(err.value) and len(str(err.value)) < 300, str(err.value)


@pytest.mark.parametrize("loader", [hw.load_spec, hw.load_energy, load_scheme, load_profile])
def test_toml_with_bytes_that_are_not_utf8(tmp_path, loader):
    path = tmp_path / "file.toml"
    path.write_bytes(b'name = "caf\xe9"\n')  # Latin-1, not UTF-8
    with pytest.raises(ValueError) as err:
        loader(path)
    assert_clear(err.value, path)
    assert "is not UTF-8 text (byte 11" in str(err.value), str(err.value)


def test_json_with_bytes_that_are_not_utf8(tmp_path):
    (tmp_path / "results.json").write_bytes(b'{"schema_version": 1, "panacea_version": "\xff\xfe"}')
    with pytest.raises(ValueError) as err:
        Results.load(tmp_path)
    assert_clear(err.value, tmp_path / "results.json")
    assert "is not UTF-8 text (byte 42" in str(err.value), str(err.value)


def test_json_with_a_lone_surrogate_and_control_characters(tmp_path):
    """JSON escapes can spell what UTF-8 cannot (a lone surrogate) and any control character."""
    (tmp_path / "results.json").write_text(json.dumps({"schema_version": 1, "panacea_version": ["\udcff\n\x1b"]}))
    with pytest.raises(ValueError) as err:
        Results.load(tmp_path)
    assert_clear(err.value, tmp_path / "results.json", ("panacea_version",))
    assert str(err.value).endswith(r"panacea_version: Input should be a valid string, got ['\udcff\n\x1b']")


# ----------------------------------------------------------------------------------------------
# QuantRecipe directories


@pytest.fixture(scope="module")
def recipe_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("recipe")
    calibrate(tiny_llama(), token_batches(96)).save(d)
    return d


def _quantize_once(recipe: QuantRecipe) -> None:
    """A recipe that loads must run its model, or be refused in one clear line."""
    model, x = tiny_llama(), token_batches(96, 1, seed=7)[0]
    try:
        with torch.no_grad(), quantized(model, recipe):
            model(x)  # a huge but finite scale may overflow the logits: valid input, odd output
    except ValueError as err:
        assert "\n" not in str(err), str(err)


def _write_recipe(d: Path, doc: dict, tensors: dict[str, torch.Tensor], rehash: bool = True) -> None:
    blob = save_tensors(tensors)
    if rehash:  # as a consistent writer would: the deeper checks, not the hash, must catch it
        import hashlib

        doc = {**doc, "tensors_sha256": hashlib.sha256(blob).hexdigest()}
    (d / "recipe.safetensors").write_bytes(blob)
    (d / "recipe.json").write_text(json.dumps(doc))


@FUZZ
@given(data=st.data())
def test_recipe_json_mutated_at_any_key(data, recipe_dir):
    doc = json.loads((recipe_dir / "recipe.json").read_text())
    tensors = load_tensors((recipe_dir / "recipe.safetensors").read_bytes())
    mutation = data.draw(mutations({k: v for k, v in doc.items() if k != "tensors_sha256"}, toml=False))
    with _scratch() as d:
        _write_recipe(d, _mutated(doc, mutation), tensors)
        try:
            recipe = QuantRecipe.load(d)
        except Exception as err:
            assert_clear(err, d / "recipe.json", mutation[1])
            return
    _quantize_once(recipe)


def _bad_tensor(draw, t: torch.Tensor) -> torch.Tensor:
    how = draw(st.sampled_from(["dtype", "shape", "values", "empty"]))
    if how == "dtype":
        return t.to(
            draw(st.sampled_from([torch.float16, torch.float64, torch.int32, torch.int64, torch.uint8, torch.bool]))
        )
    if how == "shape":
        return t.reshape(-1) if t.ndim > 1 else t.reshape(1, -1)
    if how == "empty":
        return t[:0]
    values = [float("nan"), float("inf"), 0.0, -1.0, 1e30] if t.is_floating_point() else [127, -128, 64, -64]
    out = t.clone()
    out.view(-1)[draw(st.integers(0, t.numel() - 1))] = draw(st.sampled_from(values))
    return out


@FUZZ
@given(data=st.data())
def test_recipe_tensors_damaged(data, recipe_dir):
    doc = json.loads((recipe_dir / "recipe.json").read_text())
    tensors = load_tensors((recipe_dir / "recipe.safetensors").read_bytes())
    key = data.draw(st.sampled_from(sorted(tensors)))
    how = data.draw(st.sampled_from(["replace", "replace", "delete", "add"]))
    tensors = dict(tensors)
    if how == "delete":
        del tensors[key]
    elif how == "add":
        tensors["not/a/layer"] = torch.zeros(2)
    else:
        tensors[key] = _bad_tensor(data.draw, tensors[key])
    with _scratch() as d:
        _write_recipe(d, doc, tensors)
        try:
            recipe = QuantRecipe.load(d)
        except Exception as err:
            assert_clear(err, d / "recipe.safetensors")
            assert how == "add" or key in str(err) or key.split("/")[0] in str(err), str(err)
            return
    _quantize_once(recipe)


@FUZZ
@given(data=st.data(), file=st.sampled_from(["recipe.json", "recipe.safetensors"]))
def test_recipe_with_damaged_bytes(data, file, recipe_dir):
    with _scratch() as d:
        for name in ("recipe.json", "recipe.safetensors"):
            (d / name).write_bytes((recipe_dir / name).read_bytes())
        (d / file).write_bytes(data.draw(damaged((recipe_dir / file).read_bytes())))
        try:
            recipe = QuantRecipe.load(d)
        except Exception as err:
            assert_clear(err, d)  # the message names the directory and the file in it
            return
    _quantize_once(recipe)


def test_recipe_directory_missing_files(recipe_dir, tmp_path):
    for missing in ("recipe.json", "recipe.safetensors"):
        d = tmp_path / missing
        d.mkdir()
        other = "recipe.safetensors" if missing == "recipe.json" else "recipe.json"
        (d / other).write_bytes((recipe_dir / other).read_bytes())
        with pytest.raises(OSError) as err:
            QuantRecipe.load(d)
        assert_clear(err.value, d)
        assert missing in str(err.value)


# ----------------------------------------------------------------------------------------------
# results.json and the cache entries of panacea evaluate


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> Path:
    model = save_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))
    out = tmp_path_factory.mktemp("evaluated")
    config = EvaluateConfig(
        model=model, tokens=64, calib_tokens=64, seqlen=32, batch_size=2, schemes=("sym", "dbs", "aq")
    )
    evaluate(config, out)
    return out


def _listing(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


def _report(d: Path) -> None:
    """``panacea report d``: renders, or refuses in one line (exit 2) and writes nothing."""
    result = CliRunner().invoke(app, ["report", str(d)])
    if result.exit_code == 0:
        assert (d / "report.md").is_file()
        return
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert str(d / "results.json") in result.stderr or str(d) in result.stderr
    assert _listing(d) == ["results.json"]


@FUZZ
@given(data=st.data())
def test_results_mutated_at_any_key(data, evaluated):
    doc = json.loads((evaluated / "results.json").read_text())
    mutation = data.draw(mutations(doc, toml=False))
    with _scratch() as d:
        (d / "results.json").write_text(json.dumps(_mutated(doc, mutation)))
        try:
            Results.load(d)
        except Exception as err:
            assert_clear(err, d / "results.json", mutation[1])


@RENDERS
@given(data=st.data())
def test_results_that_load_also_render(data, evaluated):
    """A mutated results file renders (tables, CSV, four plots) or is refused, writing nothing."""
    doc = json.loads((evaluated / "results.json").read_text())
    mutation = data.draw(mutations(doc, toml=False))
    with _scratch() as d:
        (d / "results.json").write_text(json.dumps(_mutated(doc, mutation)))
        _report(d)


@FUZZ
@given(data=st.data())
def test_results_with_damaged_bytes(data, evaluated):
    with _scratch() as d:
        (d / "results.json").write_bytes(data.draw(damaged((evaluated / "results.json").read_bytes())))
        try:
            Results.load(d)
        except Exception as err:
            assert_clear(err, d / "results.json")


def test_results_nested_deeper_than_the_parser_allows(tmp_path):
    (tmp_path / "results.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError) as err:
        Results.load(tmp_path)
    assert_clear(err.value, tmp_path / "results.json")


def _capture_file(evaluated: Path, scheme: str) -> Path:
    return next((evaluated / "cache").glob(f"{scheme}-*")) / "capture.safetensors"


def _records(blob: bytes) -> tuple[dict, dict]:
    """(safetensors metadata, workload records) of a capture file."""
    metadata = json.loads(blob[8 : 8 + int.from_bytes(blob[:8], "little")])["__metadata__"]
    return metadata, json.loads(metadata["workloads"])


@FUZZ
@given(data=st.data(), scheme=st.sampled_from(["sym", "dbs", "aq"]))
def test_capture_records_mutated_at_any_key(data, scheme, evaluated):
    """A workload record of a cached capture, mutated at any key (the tensors kept)."""
    blob = _capture_file(evaluated, scheme).read_bytes()
    metadata, records = _records(blob)
    first = records["main"][0]
    mutation = data.draw(mutations(first, toml=False))
    records["main"][0] = _mutated(first, mutation)
    with _scratch() as d:
        path = d / "capture.safetensors"
        path.write_bytes(save_tensors(load_tensors(blob), metadata={**metadata, "workloads": json.dumps(records)}))
        try:
            _, groups = load_capture(path)
        except Exception as err:
            assert_clear(err, path, ("workloads", "main", 0, *mutation[1]))
            return
    design = "aq-bitserial" if scheme == "aq" else "sibia" if scheme == "sym" else "panacea"
    for workloads in groups.values():
        try:
            hw.load(design).run(workloads)
        except ValueError as err:
            assert "\n" not in str(err), str(err)


@FUZZ
@given(data=st.data(), scheme=st.sampled_from(["sym", "dbs", "aq"]))
def test_capture_with_damaged_bytes(data, scheme, evaluated):
    with _scratch() as d:
        path = d / "capture.safetensors"
        path.write_bytes(data.draw(damaged(_capture_file(evaluated, scheme).read_bytes())))
        try:
            load_capture(path)
        except Exception as err:
            assert_clear(err, path)


@FUZZ
@given(data=st.data())
def test_cached_metrics_damaged(data, evaluated):
    source = next((evaluated / "cache").glob("fp32-*")) / "metrics.json"
    doc = json.loads(source.read_text())
    with _scratch() as d:
        path = d / "metrics.json"
        if data.draw(st.booleans()):
            mutation = data.draw(mutations(doc, toml=False))
            path.write_text(json.dumps(_mutated(doc, mutation)))
        else:
            path.write_bytes(data.draw(damaged(source.read_bytes())))
        try:
            metrics = load_metrics(path)
        except Exception as err:
            assert_clear(err, path)
            return
    assert all(isinstance(v, float) for v in metrics.values())


def test_a_damaged_cache_entry_is_said_in_one_line_and_computed_again(evaluated, tmp_path, caplog):
    out = tmp_path / "out"
    out.mkdir()
    (out / "cache").mkdir()
    for entry in (evaluated / "cache").iterdir():
        (out / "cache" / entry.name).mkdir()
        for f in entry.iterdir():
            (out / "cache" / entry.name / f.name).write_bytes(f.read_bytes())
    damaged_file = _capture_file(out, "dbs")
    damaged_file.write_bytes(damaged_file.read_bytes()[:100])
    config = Results.load(evaluated).config
    res = evaluate(EvaluateConfig(**config), out, resume=True)
    assert {s.scheme: s.cached for s in res.schemes} == {"sym": True, "dbs": False, "aq": True}
    (line,) = [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()]
    assert str(damaged_file) in line and "\n" not in line
    assert load_capture(damaged_file)  # whole again


# ----------------------------------------------------------------------------------------------
# Text data files


@FUZZ
@given(blob=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_text_data_file(blob):
    with _scratch() as d:
        path = d / "data.txt"
        path.write_bytes(blob)
        try:
            _, text = _text(str(path))
        except Exception as err:
            assert_clear(err, path)
            return
    assert text.encode() == blob


@FUZZ
@given(blob=st.binary(max_size=300))
def test_wikitext2_directory_with_a_damaged_file(blob):
    with _scratch() as d:
        (d / "wiki.test.raw").write_bytes(blob)
        try:
            _, text = _text(str(d))
        except Exception as err:
            assert_clear(err, d / "wiki.test.raw")
            return
    assert text == "\n\n".join(blob.decode().split("\n"))
