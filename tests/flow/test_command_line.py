"""The command line as a new user meets it: each subcommand's own help and options, and one
line (never a traceback) for every usual mistake."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.cli import Ran, run_cli
from tests.fakes import slack as fake_slack_module
from tests.fakes.slack import FakeSlack
from tests.harness import ROOT, bot_env


def run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Ran:
    return run_cli(tmp_path, *args, env=env)


def one_line(result: Ran) -> str:
    """The single line a failure prints: no traceback, no error or warning lines before it
    (serve's INFO lines and its access warning may come first)."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    said = [line for line in lines if line.startswith("connect-bitbucket: ")]
    assert len(said) == 1 and lines[-1] == said[0], lines
    noise = [
        line
        for line in lines[:-1]
        if " INFO " not in line and "ALLOWED_USERS and APPROVERS are both empty" not in line
    ]
    assert not noise, noise
    return said[0]


def test_each_subcommand_has_its_own_help(tmp_path: Path) -> None:
    top = run(tmp_path, "--help")
    assert top.returncode == 0
    for name in ("serve", "migrate", "check", "audit"):
        assert name in top.stdout
    helps = {
        name: run(tmp_path, name, "--help").stdout
        for name in ("serve", "migrate", "check", "audit")
    }
    assert len(set(helps.values())) == 4
    assert "--format" in helps["audit"] and "--format" not in helps["check"]
    assert "formula" in helps["audit"] and "leading '" in helps["audit"]


@pytest.mark.parametrize(
    "args",
    [["check", "--since", "x"], ["migrate", "--format", "csv"], ["serve", "now"], ["nonsense"]],
)
def test_options_a_subcommand_does_not_take_are_refused(tmp_path: Path, args: list[str]) -> None:
    result = run(tmp_path, *args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "unrecognized arguments" in result.stderr or "invalid choice" in result.stderr


def test_a_database_the_bot_does_not_support_is_named(tmp_path: Path) -> None:
    for command in ("migrate", "audit"):
        line = one_line(run(tmp_path, command, env={"DATABASE_URL": "mysql://u:pw@db/bot"}))
        assert "DATABASE_URL" in line and "SQLite" in line and "PostgreSQL" in line
        assert "pw" not in line and "MySQLdb" not in line


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as refused:
        refused.bind(("127.0.0.1", 0))
        url = f"postgresql://user:pw@127.0.0.1:{refused.getsockname()[1]}/bot"
        for command in ("migrate", "audit"):
            line = one_line(run(tmp_path, command, env={"DATABASE_URL": url}))
            assert "DATABASE_URL" in line and "refused" in line.lower(), line
    line = one_line(run(tmp_path, "migrate", env={"DATABASE_URL": "sqlite:///no/such/dir/x.db"}))
    assert "DATABASE_URL" in line


def test_audit_before_any_migrate_says_so_and_leaves_no_file(tmp_path: Path) -> None:
    line = one_line(run(tmp_path, "audit"))
    assert "migrate" in line
    assert not (tmp_path / "connect_bitbucket.db").exists()
    empty = tmp_path / "empty.db"
    empty.touch()
    line = one_line(run(tmp_path, "audit", env={"DATABASE_URL": f"sqlite:///{empty}"}))
    assert "no connect-bitbucket tables" in line and "migrate" in line
    assert one_line(run(tmp_path, "audit", "--since", "yesterday")).endswith("got 'yesterday'")


def test_an_unknown_log_level_is_named(tmp_path: Path) -> None:
    line = one_line(run(tmp_path, "migrate", env={"LOG_LEVEL": "LOUD"}))
    assert "LOG_LEVEL" in line and "'LOUD'" in line and "INFO" in line


def test_log_format_json_writes_one_object_a_line_and_keeps_secrets_out(tmp_path: Path) -> None:
    import io
    import json
    import logging

    from bot.logs import setup_logging
    from bot.redaction import REDACTOR

    ran = run(
        tmp_path,
        "migrate",
        env={"LOG_FORMAT": "json", "DATABASE_URL": f"sqlite:///{tmp_path}/b.db"},
    )
    assert ran.returncode == 0, ran.stderr
    events = [json.loads(line) for line in ran.stderr.splitlines() if line.strip()]
    assert any(e["message"] == "database schema is up to date" for e in events), events
    assert all({"time", "level", "logger", "message"} <= set(e) for e in events)
    # The fields of a key=value line, and the scrubbing of a held secret, hold for JSON too.
    out = io.StringIO()
    setup_logging(stream=out, fmt="json")
    fake_secret = "fake-consumer-secret-value-123"
    with REDACTOR.holding(fake_secret):
        logging.getLogger("bot.test").warning(
            "Bitbucket said %s", fake_secret, extra={"connection": 7, "error": fake_secret}
        )
    event = json.loads(out.getvalue().strip().splitlines()[-1])
    assert event["connection"] == 7 and event["level"] == "WARNING"
    assert fake_secret not in out.getvalue()
    assert one_line(run(tmp_path, "migrate", env={"LOG_FORMAT": "xml"})).endswith("got 'xml'")


def test_the_example_values_say_to_create_the_slack_app_first(tmp_path: Path) -> None:
    example = (ROOT / ".env.example").read_text()
    (tmp_path / ".env").write_text(example)
    line = one_line(run(tmp_path, "serve"))
    assert "Create the Slack app" in line and "SLACK_BOT_TOKEN" in line
    assert "SLACK_API_URL" not in line


def test_socket_mode_with_a_refused_app_token_is_one_line(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    env = bot_env(
        slack_url=fake_slack.url,
        tfe_url="http://127.0.0.1:9",
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        SLACK_APP_TOKEN="xapp-fake-but-not-the-one-slack-knows",
    )
    assert env["SLACK_APP_TOKEN"] != fake_slack_module.APP_TOKEN
    line = one_line(run(tmp_path, "serve", env=env))
    assert "SLACK_APP_TOKEN" in line and "refused" in line and "connections:write" in line
