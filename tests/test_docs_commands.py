"""Every `streamfx` command that the README and docs show as an example parses as written: the options exist and
take the values shown. (Synopsis lines, with [optional] parts or a|b choices, are left out.)"""

from __future__ import annotations

import re
import shlex

import pytest

from conftest import REPO
from streamfx.cli import build_parser

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _code_lines(text: str):
    inside = False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            inside = not inside
        elif inside:
            yield line
    for span in re.findall(r"`([^`\n]+)`", text):  # inline examples name a file: `streamfx anime clip.mp4 ...`
        if re.search(r"\S\.\w{2,4}\b", span):
            yield span


def _examples() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for line in _code_lines(doc.read_text()):
            command = line.strip().removeprefix("$ ")
            command = re.split(r"\s+#", command)[0].strip()  # a trailing comment
            # Synopses ([optional] parts, a|b choices, <placeholders>, IN/OUT_DIR) are not examples.
            if not command.startswith("streamfx ") or re.search(r"[\[\]|<>]|\.\.\.|…|\b[A-Z][A-Z_]+\b", command):
                continue
            found.append((doc.name, command))
    return found


EXAMPLES = _examples()


def test_the_docs_show_commands():
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("doc, command", EXAMPLES, ids=[f"{d}: {c}" for d, c in EXAMPLES])
def test_example_command_parses(doc, command):
    argv = shlex.split(command)[1:]
    try:
        build_parser().parse_args(argv)
    except SystemExit as stop:
        pytest.fail(f"{doc}: `{command}` does not parse (exit {stop.code})")
