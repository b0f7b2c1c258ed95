from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from tests.harness import ROOT

BASE = {
    "SLACK_BOT_TOKEN": "xoxb-fake-token-not-real",
    "SLACK_SIGNING_SECRET": "fake-signing-secret",
    "TFE_TOKEN": "fake-tfe-token",
}


def test_defaults_follow_the_product_table() -> None:
    settings = load_settings(BASE)
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.port == 3000
    assert settings.database_url == "sqlite:///connect_bitbucket.db"
    assert settings.tfe_url == "https://app.terraform.io"
    assert settings.bitbucket_url == "https://bitbucket.org"
    assert settings.bitbucket_api_url == "https://api.bitbucket.org/2.0"
    assert settings.approvers == () and settings.allowed_users == ()
    assert (settings.stall_after, settings.remind_every, settings.escalate_after) == (
        86400,
        86400,
        3,
    )
    assert settings.expire_after == 1209600 and settings.token_poll_every == 5
    assert not settings.socket_mode


def test_lists_and_numbers_are_parsed() -> None:
    settings = load_settings(
        {
            **BASE,
            "APPROVERS": "U123ABC, S0GROUP1",
            "ALLOWED_USERS": "W999XYZ",
            "TOKEN_POLL_EVERY": "0.5",
            "ESCALATE_AFTER": "5",
            "PORT": "8080",
            "SLACK_APP_TOKEN": "xapp-1-fake",
        }
    )
    assert settings.approvers == ("U123ABC", "S0GROUP1")
    assert settings.allowed_users == ("W999XYZ",)
    assert settings.token_poll_every == 0.5 and settings.escalate_after == 5
    assert settings.port == 8080 and settings.socket_mode


def test_organizations_are_names_and_globs() -> None:
    from bot.connections.validation import organization_allowed

    patterns = load_settings({**BASE, "ORGANIZATIONS": "acme-*, Infra"}).organizations
    assert patterns == ("acme-*", "Infra")
    assert organization_allowed("acme-prod", patterns)
    assert organization_allowed("infra", patterns)
    assert not organization_allowed("other", patterns)
    assert not organization_allowed("acme", patterns)
    assert organization_allowed("anything", ())


def test_data_center_addresses_are_a_list_and_empty_by_default() -> None:
    assert load_settings(BASE).bitbucket_dc_url == ()
    listed = load_settings({**BASE, "BITBUCKET_DC_URL": "https://git.acme.com/, http://bb:7990"})
    assert listed.bitbucket_dc_url == ("https://git.acme.com", "http://bb:7990")


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"SLACK_BOT_TOKEN": ""}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN"),
        ({"TFE_TOKEN": " "}, "TFE_TOKEN"),
        ({"SLACK_SIGNING_SECRET": ""}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_APP_TOKEN": "xoxb-wrong-kind"}, "SLACK_APP_TOKEN"),
        ({"PORT": "http"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"TFE_URL": "app.terraform.io"}, "TFE_URL"),
        ({"SLACK_API_URL": "ftp://x"}, "SLACK_API_URL"),
        ({"BITBUCKET_URL": "nope"}, "BITBUCKET_URL"),
        ({"DATABASE_URL": "connect.db"}, "DATABASE_URL"),
        ({"APPROVERS": "jane"}, "APPROVERS"),
        ({"ALLOWED_USERS": "@jane"}, "ALLOWED_USERS"),
        ({"STALL_AFTER": "a day"}, "STALL_AFTER"),
        ({"REMIND_EVERY": "-1"}, "REMIND_EVERY"),
        ({"ESCALATE_AFTER": "2.5"}, "ESCALATE_AFTER"),
        ({"EXPIRE_AFTER": "0"}, "EXPIRE_AFTER"),
        ({"TOKEN_POLL_EVERY": "fast"}, "TOKEN_POLL_EVERY"),
        ({"ORGANIZATIONS": "acme, bad/name"}, "ORGANIZATIONS"),
        ({"BITBUCKET_DC_URL": "bitbucket.acme.internal"}, "BITBUCKET_DC_URL"),
        ({"BITBUCKET_DC_URL": "https://git.acme.com, https://u:p@x.acme.com"}, "BITBUCKET_DC_URL"),
    ],
)
def test_a_bad_setting_names_its_variable(changes: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({**BASE, **changes})
    assert str(raised.value).startswith(variable)


def test_the_process_environment_is_read_when_no_mapping_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {**BASE, "APPROVERS": "U123ABC S0GROUP1", "REMIND_EVERY": "60"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PORT", "  ")  # blank means unset
    settings = load_settings()
    assert settings.approvers == ("U123ABC", "S0GROUP1")
    assert settings.remind_every == 60 and settings.port == 3000
    monkeypatch.setenv("TOKEN_POLL_EVERY", "fast")
    with pytest.raises(
        ConfigError, match=r"^TOKEN_POLL_EVERY must be a number of seconds, got 'fast'"
    ):
        load_settings()


def test_a_bad_token_is_named_but_never_echoed() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({**BASE, "SLACK_APP_TOKEN": "xoxb-secret-looking-value"})
    assert "xoxb-secret-looking-value" not in str(raised.value)


def test_socket_mode_needs_no_signing_secret() -> None:
    env = {**BASE, "SLACK_SIGNING_SECRET": "", "SLACK_APP_TOKEN": "xapp-1-fake"}
    assert load_settings(env).socket_mode


def test_serve_stops_at_start_with_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **BASE, "TFE_TOKEN": ""}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "TFE_TOKEN is required" in lines[0]


def test_a_refused_slack_token_stops_the_bot_with_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.fakes.slack import FakeSlack

    slack = FakeSlack(token="xoxb-some-other-token").start()
    try:
        result = _serve(tmp_path, slack.url + "/api/")
    finally:
        slack.stop()
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert (
        last.startswith("connect-bitbucket: SLACK_BOT_TOKEN was refused") and "invalid_auth" in last
    )


def test_tokens_stay_out_of_the_settings_repr() -> None:
    settings = load_settings({**BASE, "SLACK_APP_TOKEN": "xapp-1-fake-app-token"})
    text = repr(settings)
    for secret in (
        "xoxb-fake-token-not-real",
        "fake-signing-secret",
        "fake-tfe-token",
        "xapp-1-fake-app-token",
    ):
        assert secret not in text
    assert "tfe_url" in text


def test_an_unreachable_slack_stops_the_bot_with_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import socket

    # Bound and never listening: connections are refused, and no other test's server can
    # take the port meanwhile (as it could a port merely found free).
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        result = _serve(tmp_path, f"http://127.0.0.1:{held.getsockname()[1]}/api/")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("connect-bitbucket: cannot reach Slack at http://127.0.0.1:")
    assert lines[-1].endswith("SLACK_API_URL")  # named, since it was set
    assert not [line for line in lines if " ERROR " in line or "will be unused" in line], lines


def _serve(tmp_path: Path, slack_api_url: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot serve` with a clean environment, run until it stops by itself."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        **BASE,
        "SLACK_API_URL": slack_api_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_tfe_rate_is_read_and_checked() -> None:
    assert load_settings({**BASE, "TFE_RATE": "12.5"}).tfe_rate == 12.5
    assert load_settings(BASE).tfe_rate == 25
    with pytest.raises(ConfigError, match=r"^TFE_RATE must be greater than 0, got '0'"):
        load_settings({**BASE, "TFE_RATE": "0"})


def test_health_every_above_thirty_days_is_refused_with_the_reason() -> None:
    from bot.config import ConfigError, load_settings

    base = {"SLACK_BOT_TOKEN": "xoxb-fake", "SLACK_SIGNING_SECRET": "fake", "TFE_TOKEN": "fake"}
    assert load_settings({**base, "HEALTH_EVERY": "2592000"}).health_every == 2592000
    with pytest.raises(ConfigError) as refused:
        load_settings({**base, "HEALTH_EVERY": "2592001"})
    assert str(refused.value).startswith("HEALTH_EVERY must be at most 30 days")
    assert "unused for three months" in str(refused.value)
