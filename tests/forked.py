"""What a forked bot process runs (a module of its own: the fork server imports it, and it
imports nothing the child would not need)."""

from __future__ import annotations

import os
import sys

from bot.__main__ import main


def serve(env: dict[str, str], cwd: str, log_path: str) -> None:
    """In the child: exactly `env`, output to `log_path`, then what `python -m bot serve`
    runs."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    # Unbuffered, as PYTHONUNBUFFERED makes it: what was written before a SIGKILL stays.
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - the process's own
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.exit(main(["serve"]))
