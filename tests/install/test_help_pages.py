"""Every help page of the command line shows what to type, never a Python type in angle brackets.

typer prints '<bool>' beside every flag (``--help`` itself included), '<int>', '<str>', '<path>',
'<list[str]>' and '<a|b>' when a parameter has no metavar; ``pendling.cli`` replaces these with
nothing beside a flag, ``a|b`` for choices and INTEGER / TEXT / PATH otherwise.
"""

from __future__ import annotations

import re
from typing import Any

import click
import pytest
from click.testing import CliRunner

from pendling.cli import COMMANDS, command_tree, main

TYPE_WORDS = {"bool", "int", "float", "str", "text", "path", "uuid", "datetime", "file", "dir", "choice"}


def _commands() -> list[tuple[list[str], Any]]:
    """(argv path, click command) of every group and command under ``pendling``."""
    out: list[tuple[list[str], Any]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        out.append((path, cmd))
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(command_tree(), [])
    return out


COMMAND_PATHS = [path for path, _ in _commands()]


def _placeholders(text: str) -> list[str]:
    """The type placeholders in a rendered page ('<stem>' in prose is a file-name pattern, not one)."""
    found = re.findall(r"<([^<>\s]+(?: range)?)>", text)
    return [f for f in found if f.lower() in TYPE_WORDS or f.startswith("list[") or "|" in f or f.endswith(" range")]


def test_every_registered_command_is_walked() -> None:
    assert {p[0] for p in COMMAND_PATHS if p} == set(COMMANDS)
    assert len(COMMAND_PATHS) > len(COMMANDS) + 5  # groups' sub-commands too


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(p) or "pendling")
def test_help_page_shows_no_type_placeholder(path: list[str]) -> None:
    result = CliRunner().invoke(click.Command("x", callback=lambda: main([*path, "--help"])), [],
                                env={"COLUMNS": "200", "TERM": "dumb"}, catch_exceptions=False)
    text = result.output
    assert "Usage" in text and "--help" in text, text
    assert "<bool>" not in text
    assert _placeholders(text) == [], text


def test_the_type_column_of_every_parameter() -> None:
    """The same rule on the parameters themselves, so it holds at any terminal width."""
    for path, cmd in _commands():
        ctx = click.Context(cmd, info_name=path[-1] if path else "pendling")
        for param in cmd.get_params(ctx):
            shown = param.display_type_rich(ctx)
            where = f"pendling {' '.join(path)} {param.opts or param.name}: {shown!r}"
            if getattr(param, "is_flag", False):
                assert not shown, where  # nothing beside a flag
            else:
                assert shown and not shown.startswith("<"), where


def test_the_placeholder_finder_finds_what_typer_prints() -> None:
    page = "--min-n  <int>  ... --on-duplicate <error|drop|first> --help <bool> paths <list[str]> <int range>"
    assert _placeholders(page) == ["int", "error|drop|first", "bool", "list[str]", "int range"]
    assert _placeholders("beside a .parquet as <stem>.attrition.<suffix>") == []
