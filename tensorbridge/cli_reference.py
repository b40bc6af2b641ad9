"""docs/cli.md: every command and flag of ``tensorbridge``, written from the parser itself
(``python -m tensorbridge.cli_reference > docs/cli.md``; a test keeps the page current)."""

from __future__ import annotations

import argparse

HEADER = """# The `tensorbridge` command

Generated from the argument parser by `python -m tensorbridge.cli_reference > docs/cli.md`
(tests/newcomer/test_docs.py fails when this page and the parser differ). Exit codes:
0 success / parity, 1 a conversion that does not match its source (nothing written),
2 a usage, input or conversion error (message, no traceback), 3 an internal error
(`--debug` shows the traceback).

Global flags: `--version`, `--debug`.
"""


def markdown() -> str:
    from tensorbridge.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help or "" for a in sub._choices_actions}
    parts = [HEADER]
    for name, command in sub.choices.items():
        parts.append(f"## tensorbridge {name}\n\n{helps.get(name, '')}\n")
        parts.append("| argument | meaning |\n|---|---|")
        parts += [_row(a) for a in command._actions if not isinstance(a, argparse._HelpAction)]
        parts.append("")
    return "\n".join(parts)


def _row(action: argparse.Action) -> str:
    flag = ", ".join(action.option_strings) or action.dest.upper()
    if action.choices:
        flag += " {" + ", ".join(map(str, action.choices)) + "}"
    text = " ".join((action.help or "").split())
    if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
        text += f" (default: {action.default})"
    return f"| `{flag}` | {text.replace('|', '&#124;')} |"


if __name__ == "__main__":
    print(markdown(), end="")
