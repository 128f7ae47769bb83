"""The ``panacea`` app: its commands in the help, each with an example, and the version."""

from __future__ import annotations

from typer.testing import CliRunner

import panacea
from panacea.cli import app

runner = CliRunner()


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("evaluate", "sweep", "report", "gemm-demo", "ptq", "cost"):
        assert command in result.output
        assert f"panacea {command} " in " ".join(result.output.split())  # an example of each


def test_the_commands_keep_their_order_and_rtl_is_a_group():
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "120"})
    listed = [line.split()[1] for line in result.output.splitlines() if line.startswith("│ ") and "  " in line[2:]]
    commands = ["gemm-demo", "ptq", "evaluate", "reproduce", "report", "sweep", "dse", "aq-peak", "cost", "rtl"]
    assert [name for name in listed if name in commands] == commands


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"panacea {panacea.__version__}"
