"""`python -m bot check` against the fakes, with good settings and with bad ones."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory

from bot import db
from tests.cli import run_cli
from tests.fakes.bitbucket import FakeBitbucket
from tests.fakes.bitbucket_dc import FakeBitbucketDC
from tests.fakes.slack import FakeSlack
from tests.fakes.tfe import FakeTFE


def check(env: dict[str, str], tmp_path: Path) -> tuple[int, list[str]]:
    result = run_cli(tmp_path, "check", env=env)
    # Quiet: the lines are the whole answer, with no library's retry warnings among them.
    assert result.stderr == "", result.stderr
    return result.returncode, result.stdout.strip().splitlines()


def test_good_settings_pass_every_check(
    env: dict[str, str],
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    fake_bitbucket: FakeBitbucket,
    tmp_path: Path,
) -> None:
    db.migrate(env["DATABASE_URL"])
    code, lines = check(env, tmp_path)
    assert code == 0, lines
    assert all(line.startswith("✓") for line in lines)
    said = "\n".join(lines)
    for what in (
        "Slack bot token",
        "Slack scopes",
        "Slack member list",
        "Terraform token",
        "Bitbucket API",
        "Database",
    ):
        assert what in said
    assert "acme-infra" in said


@pytest.mark.empty_database
def test_bad_settings_are_each_named_with_the_fix(
    env: dict[str, str],
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    fake_bitbucket: FakeBitbucket,
    tmp_path: Path,
) -> None:
    config = db.alembic_config(env["DATABASE_URL"])
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    command.upgrade(config, f"{int(head) - 2:04d}")  # two revisions behind
    fake_slack.scopes.remove("im:write")
    fake_tfe.add_organization("locked-org", can_update_oauth=False)
    with socket.socket() as held:  # bound, never listening: Bitbucket is unreachable
        held.bind(("127.0.0.1", 0))
        bad = {**env, "BITBUCKET_API_URL": f"http://127.0.0.1:{held.getsockname()[1]}/2.0"}
        code, lines = check(bad, tmp_path)
    assert code == 1
    failed = {line.split(":")[0].removeprefix("✗ ") for line in lines if line.startswith("✗")}
    assert failed == {
        "Slack scopes",
        "Terraform VCS settings",
        "BITBUCKET_API_URL",
        "Database (DATABASE_URL)",
    }
    said = "\n".join(lines)
    assert "missing im:write" in said and "reinstall" in said
    assert "locked-org" in said and "Manage VCS settings" in said
    assert "2 revisions behind" in said and "python -m bot migrate" in said

    code, lines = check({**env, "TFE_TOKEN": "fake-wrong-token"}, tmp_path)
    assert code == 1
    assert any(line.startswith("✗ TFE_TOKEN: refused") for line in lines), lines
    code, lines = check({**env, "SLACK_BOT_TOKEN": "xoxb-fake-wrong"}, tmp_path)
    assert code == 1 and any(
        "✗ SLACK_BOT_TOKEN" in line and "invalid_auth" in line for line in lines
    )


@pytest.mark.sqlite_only
def test_organizations_narrow_what_is_checked(
    env: dict[str, str],
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    fake_bitbucket: FakeBitbucket,
    tmp_path: Path,
) -> None:
    db.migrate(env["DATABASE_URL"])
    fake_tfe.add_organization("locked-org", can_update_oauth=False)
    code, lines = check({**env, "ORGANIZATIONS": "acme-*"}, tmp_path)
    assert code == 0, lines
    assert "locked-org" not in "\n".join(lines)


@pytest.mark.sqlite_only
def test_a_member_list_slack_refuses_is_named_with_what_it_means(
    env: dict[str, str],
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    fake_bitbucket: FakeBitbucket,
    tmp_path: Path,
) -> None:
    db.migrate(env["DATABASE_URL"])
    fake_slack.fail(
        "POST", r"/api/users\.list", status=200, body={"ok": False, "error": "missing_scope"}
    )
    code, lines = check(env, tmp_path)
    assert code == 1
    failed = [line for line in lines if line.startswith("✗")]
    assert len(failed) == 1 and failed[0].startswith("✗ Slack member list")
    assert "missing_scope" in failed[0] and "users.info" in failed[0]


def test_when_nothing_answers_each_line_names_its_setting_and_why(tmp_path: Path) -> None:
    """Refused, unknown host and timeout told apart; one try each; no database file made."""
    with socket.socket() as refused, socket.socket() as silent:
        refused.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        silent.bind(("127.0.0.1", 0))
        silent.listen(50)  # listening, never answering: requests time out
        env = {
            "SLACK_BOT_TOKEN": "xoxb-fake-token",
            "SLACK_SIGNING_SECRET": "fake-signing-secret",
            "TFE_TOKEN": "fake-tfe-token",
            "SLACK_API_URL": f"http://127.0.0.1:{refused.getsockname()[1]}/api/",
            "TFE_URL": "http://no-such-host.invalid",
            "BITBUCKET_API_URL": f"http://127.0.0.1:{silent.getsockname()[1]}/2.0",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'never-made.db'}",
        }
        code, lines = check(env, tmp_path)
    assert code == 1
    said = {line.split(":")[0].removeprefix("✗ "): line for line in lines}
    assert set(said) == {"SLACK_API_URL", "TFE_URL", "BITBUCKET_API_URL", "DATABASE_URL"}, lines
    assert "connection refused" in said["SLACK_API_URL"]
    assert "unknown host" in said["TFE_URL"] and "no-such-host.invalid" in said["TFE_URL"]
    assert "timeout" in said["BITBUCKET_API_URL"]
    assert "migrate" in said["DATABASE_URL"]
    assert not (tmp_path / "never-made.db").exists()


def test_every_missing_setting_is_named_at_once(tmp_path: Path) -> None:
    code, lines = check({}, tmp_path)
    assert code == 1
    named = [line.split(":")[0].removeprefix("✗ ") for line in lines]
    assert named == ["SLACK_BOT_TOKEN", "TFE_TOKEN", "SLACK_SIGNING_SECRET"], lines


@pytest.mark.sqlite_only
def test_a_bitbucket_api_address_that_answers_404_is_not_passed(
    env: dict[str, str],
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    fake_bitbucket: FakeBitbucket,
    tmp_path: Path,
) -> None:
    db.migrate(env["DATABASE_URL"])
    code, lines = check({**env, "BITBUCKET_API_URL": fake_slack.url + "/2.0"}, tmp_path)
    assert code == 1
    failed = [line for line in lines if line.startswith("✗")]
    assert len(failed) == 1 and failed[0].startswith("✗ BITBUCKET_API_URL"), lines
    assert "404" in failed[0] and "consumer" not in failed[0]


@pytest.mark.sqlite_only
def test_check_says_whether_this_terraform_lets_the_bot_test_a_token(
    env: dict[str, str],
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    fake_bitbucket: FakeBitbucket,
    tmp_path: Path,
) -> None:
    db.migrate(env["DATABASE_URL"])
    code, lines = check(env, tmp_path)
    assert "✓ Terraform token test: no Bitbucket Cloud token yet" in "\n".join(lines)
    fake_tfe.add_client_by_hand("acme-infra")
    code, lines = check(env, tmp_path)
    assert code == 0 and "✓ Terraform token test: works" in "\n".join(lines), lines
    fake_tfe.no_token_test = True  # an older Terraform: authorized-repos answers 404
    code, lines = check(env, tmp_path)
    said = "\n".join(lines)
    assert code == 0, lines  # the bot still works, with less sight
    assert "does not let the bot test a token" in said and "deleted client or token" in said


@pytest.mark.sqlite_only
def test_check_asks_each_data_center_what_it_is(
    env: dict[str, str],
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    fake_bitbucket: FakeBitbucket,
    tmp_path: Path,
) -> None:
    db.migrate(env["DATABASE_URL"])
    good, jira = FakeBitbucketDC(), FakeBitbucketDC()
    jira.display_name = "Jira"
    for fake in (good, jira):
        fake.start()
    try:
        code, lines = check({**env, "BITBUCKET_DC_URL": f"{good.url},{jira.url}"}, tmp_path)
    finally:
        for fake in (good, jira):
            fake.stop()
    assert code == 1
    assert (
        f"✓ Bitbucket Data Center (BITBUCKET_DC_URL): {good.url} is Bitbucket Data Center 8.19.1"
        in lines
    )
    failed = [line for line in lines if line.startswith("✗")]
    assert len(failed) == 1 and failed[0].startswith("✗ BITBUCKET_DC_URL"), lines
    assert jira.url in failed[0] and "not as Bitbucket Data Center does" in failed[0]
