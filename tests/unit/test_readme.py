"""The README and docs/ cannot go stale where it matters: the README's Block Kit links open
what the bot builds today, every relative link leads to a file that exists, and every
command they quote (`make …`, `python -m bot …`) is one the repository has."""

from __future__ import annotations

import importlib.util
import re

from bot.__main__ import parser
from tests.harness import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# What the pages quote as commands: in code spans and code blocks.
MAKE = re.compile(r"(?:^|[`\n$] ?)make ([a-z][a-z-]*)")
BOT = re.compile(r"python -m bot ([a-z]+)")


def _examples() -> str:
    spec = importlib.util.spec_from_file_location(
        "readme_examples", ROOT / "scripts/readme_examples.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.markdown())


def test_the_readme_shows_the_messages_the_bot_builds_today() -> None:
    # Stale after a change to the progress message or the notice: run
    # `python scripts/readme_examples.py` and paste its line into the README.
    assert _examples() in (ROOT / "README.md").read_text()


def test_every_relative_link_leads_to_a_file() -> None:
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not target.startswith(("http://", "https://", "mailto:")):
                assert (page.parent / target).exists(), f"{page.name}: {target}"


def test_every_quoted_command_exists() -> None:
    targets = set(re.findall(r"(?m)^([a-z][a-z-]*):", (ROOT / "Makefile").read_text()))
    subcommands = set(parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    for page in PAGES:
        code = "\n".join(re.findall(r"`([^`]+)`", page.read_text()))
        for target in MAKE.findall(code):
            assert target in targets, f"{page.name}: make {target}"
        for command in BOT.findall(code):
            assert command in subcommands, f"{page.name}: python -m bot {command}"
