"""The subcommand table (tui/cli.py): each command is one entry, and each entry works."""

from __future__ import annotations

import importlib

import pytest

from tui.cli import COMMANDS, OVERVIEW, SUBCOMMANDS, build_parser


def test_every_subcommand_has_a_handler_that_imports() -> None:
    for command in SUBCOMMANDS:
        module, _, function = command.handler.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), command.name


def test_the_overview_and_the_parsers_come_from_the_table() -> None:
    assert tuple(c.name for c in SUBCOMMANDS) == COMMANDS
    for command in SUBCOMMANDS:
        assert OVERVIEW.count(f"\n  delegate {command.name} {command.usage} ") == 1
        assert build_parser(command.name).prog == f"delegate {command.name}"


def test_every_help_fits_an_80_column_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """`delegate --help` and each `delegate COMMAND --help`: no line wraps at 80 columns."""
    monkeypatch.setenv("COLUMNS", "80")
    long = [line for line in OVERVIEW.splitlines() if len(line) >= 80]
    assert not long, long
    for command in SUBCOMMANDS:
        text = build_parser(command.name).format_help()
        long = [line for line in text.splitlines() if len(line) > 80]
        assert not long, (command.name, long)
