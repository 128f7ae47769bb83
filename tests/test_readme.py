"""The README keeps its promises: its Python examples run as written, and every name, command, file
and make target it points a reader at exists."""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

import pytest
import typer.main

from panacea.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TEXT = README.read_text()

FENCED = re.compile(r"^[ \t]*```(\w*)\n(.*?)^[ \t]*```", flags=re.S | re.M)
SHELL = {"sh", "bash", "shell", "console"}
# A dotted name in the package: not part of a path or a file name (src/panacea/..., panacea-results).
DOTTED = re.compile(r"(?<![\w/.-])panacea(?:\.[A-Za-z_]\w*)+")
PATH = re.compile(r"(?<![\w/.-])(?:src|benchmarks|examples|experiments)/[\w./-]*")
# A command as a reader types it: `panacea evaluate ...` or `.venv/bin/panacea evaluate ...`.
COMMAND = re.compile(r"^(?:\S*/)?panacea\s+(\S.*)$", flags=re.S)


def _blocks(language: set[str]) -> list[str]:
    return [body for lang, body in FENCED.findall(TEXT) if lang in language]


def _inline_code() -> list[str]:
    """Inline code spans of the prose (a span may wrap onto the next line), whitespace collapsed."""
    prose = FENCED.sub("", TEXT)
    return [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)]


def _shell_lines() -> list[str]:
    """What the README tells a reader to type: shell block lines (comments dropped) and inline spans."""
    lines = [line.split("#")[0].strip() for block in _blocks(SHELL) for line in block.splitlines()]
    return [line for line in lines + _inline_code() if line]


def test_readme_python_example_runs():
    blocks = _blocks({"python"})
    assert blocks, "README has no python example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})


# --------------------------------------------------------------------------- dotted names


def _resolves(dotted: str) -> bool:
    """The longest importable module prefix, then attributes down to the last part."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attr in parts[split:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


NAMES = sorted(set(DOTTED.findall(TEXT)))


@pytest.mark.parametrize("name", NAMES)
def test_every_dotted_reference_resolves(name):
    assert _resolves(name), f"README.md names {name}, which is neither a module nor an attribute of one"


# --------------------------------------------------------------------------- commands


def _cli_tree():
    return typer.main.get_command(app)


def _check_command(line: str) -> None:
    """``line`` (after ``panacea``) names an existing command (and sub-command, where it names one
    of a group: `panacea rtl` alone names the group) and only options that command accepts."""
    tokens = shlex.split(line)
    command, path = _cli_tree(), ["panacea"]
    while hasattr(command, "commands") and tokens and not tokens[0].startswith("-"):  # a group: a word picks
        word = tokens.pop(0)
        assert word in command.commands, f"`{line}`: {' '.join(path)} has no command {word!r}"
        command, path = command.commands[word], [*path, word]
    accepted = {"--help"} | {o for p in command.params for o in (*p.opts, *p.secondary_opts) if o.startswith("-")}
    for token in tokens:
        if token.startswith("-"):
            option = token.split("=")[0]
            assert option in accepted, f"`{line}`: {' '.join(path)} takes no option {option}"


COMMANDS = sorted({m.group(1) for line in _shell_lines() if (m := COMMAND.match(line))})


@pytest.mark.parametrize("line", COMMANDS)
def test_every_command_exists_with_its_options(line):
    _check_command(line)


def test_the_command_check_catches_stale_commands_and_options():
    for stale, fragment in (
        ("evaluat smollm2-135m", "has no command 'evaluat'"),
        ("rtl vector MODEL", "panacea rtl has no command 'vector'"),
        ("evaluate smollm2-135m --outdir x", "panacea evaluate takes no option --outdir"),
        ("cost --spec=x --tokens 3", "panacea cost takes no option --tokens"),
    ):
        with pytest.raises(AssertionError, match=re.escape(fragment)):
            _check_command(stale)


# --------------------------------------------------------------------------- files and make targets


PATHS = sorted({p.rstrip(".") for p in PATH.findall(TEXT)})


def test_the_patterns_find_what_the_readme_names():
    assert len(NAMES) > 30 and {"panacea.aqs_gemm", "panacea.core.slicing"} <= set(NAMES)
    assert any(c.startswith("evaluate ") for c in COMMANDS) and any(c.startswith("rtl vectors ") for c in COMMANDS)
    assert "benchmarks/bench_gemm.py" in PATHS and any(p.startswith("src/panacea/") for p in PATHS)


@pytest.mark.parametrize("path", PATHS)
def test_every_named_file_exists(path):
    assert (ROOT / path).exists(), f"README.md names {path}, which does not exist"


def _make_targets() -> set[str]:
    rule = re.compile(r"^([\w.-]+(?:[ \t]+[\w.-]+)*)[ \t]*:(?![=:])", flags=re.M)
    return {t for targets in rule.findall((ROOT / "Makefile").read_text()) for t in targets.split()}


def _make_goals(line: str) -> list[str]:
    """The targets a ``make`` line asks for (variable assignments and flags left out)."""
    if not line.startswith("make "):
        return []
    return [w for w in shlex.split(line)[1:] if "=" not in w and not w.startswith("-")]


def test_the_two_commands_are_shown_and_are_make_targets():
    shown = {goal for line in _shell_lines() for goal in _make_goals(line)}
    assert {"demo", "test"} <= shown
    assert shown <= _make_targets(), f"README runs make {sorted(shown - _make_targets())}, not in the Makefile"
