"""The docs describe every command and flag that exists: docs/cli.md is the parser's own
listing, and the README shows every subcommand."""

from __future__ import annotations

import argparse
from pathlib import Path

from tensorbridge.cli import build_parser
from tensorbridge.cli_reference import markdown

ROOT = Path(__file__).resolve().parents[2]


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_cli_page_is_the_parsers_listing():
    page = (ROOT / "docs" / "cli.md").read_text()
    assert page == markdown(), "docs/cli.md is stale: python -m tensorbridge.cli_reference > docs/cli.md"


def test_every_flag_is_on_the_cli_page():
    page = (ROOT / "docs" / "cli.md").read_text()
    for name, command in _subcommands().items():
        assert f"## tensorbridge {name}" in page
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            for flag in action.option_strings:
                assert f"`{flag}" in page or f", {flag}" in page, (name, flag)


def test_readme_shows_every_subcommand():
    readme = (ROOT / "README.md").read_text()
    for name in _subcommands():
        assert f"tensorbridge {name}" in readme, name
