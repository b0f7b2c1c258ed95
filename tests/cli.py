"""`python -m bot …` run in this process: the same main() a shell runs, without paying a
new interpreter's second of imports for each call."""

from __future__ import annotations

import contextlib
import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from bot.__main__ import main

# What the bot reads from the environment; a call sees only what it is given.
_READ = (
    "SLACK_",
    "TFE_",
    "BITBUCKET_",
    "DATABASE_URL",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "METRICS_PORT",
    "PORT",
    "APPROVERS",
    "ALLOWED_USERS",
    "ORGANIZATIONS",
    "STALL_AFTER",
    "REMIND_EVERY",
    "ESCALATE_AFTER",
    "EXPIRE_AFTER",
    "TOKEN_POLL_EVERY",
    "HEALTH_EVERY",
)


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def run_cli(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Ran:
    """main(args) with exactly `env` for the bot's settings, in `cwd`, output captured."""
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    root = logging.getLogger()
    saved_logging = (
        root.level,
        list(root.handlers),
        {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict},
    )
    out, err = io.StringIO(), io.StringIO()
    try:
        for name in list(os.environ):
            if name.startswith(_READ):
                del os.environ[name]
        os.environ.update(env or {})
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as leaving:  # argparse: --help, or options it does not take
                code = leaving.code if isinstance(leaving.code, int) else 1
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        level, handlers, levels = saved_logging
        root.setLevel(level)
        root.handlers[:] = handlers
        for name, old in levels.items():
            logging.getLogger(name).setLevel(old)
    return Ran(code, out.getvalue(), err.getvalue())
