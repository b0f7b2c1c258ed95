"""Metrics for whoever runs the bot: on METRICS_PORT only (off by default, never on Slack's
port), moved by what the bot does, and with no label that names anyone or anything."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE
from tests.flow.steps import OWNER
from tests.flow.test_health import connected
from tests.harness import HTTP, RunningBot, eventually, free_port

REPOS = r"/api/v2/oauth-tokens/.*/authorized-repos"


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = HTTP.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(port: int, name: str, **labels: str) -> float:
    return scrape(port).get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.sqlite_only
def test_metrics_are_off_unless_asked_and_never_on_slacks_port(
    make_bot: Callable[..., RunningBot],
) -> None:
    bot = make_bot()
    assert bot.runtime.metrics is None
    assert HTTP.get(f"{bot.url}/metrics").status_code == 404


@pytest.mark.sqlite_only
def test_what_the_bot_does_moves_its_metrics_and_no_label_names_anyone(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    port = free_port()
    bot = make_bot(METRICS_PORT=str(port), HEALTH_EVERY="0.3")
    assert HTTP.get(f"{bot.url}/metrics").status_code == 404  # not on Slack's port
    slack = SlackDriver(fake_slack, bot.url)
    connected(slack, fake_slack, fake_tfe, bot)
    token = bot.runtime.service.get(1).oauth_token_id
    assert token
    eventually(lambda: value(port, "connect_bitbucket_connections", state="connected") == 1)
    eventually(lambda: value(port, "connect_bitbucket_health_checks_total", outcome="works") >= 1)
    assert value(port, "connect_bitbucket_ack_seconds_count") >= 3  # the command and forms
    assert value(
        port, "connect_bitbucket_slack_calls_total", method="chat.postMessage", outcome="ok"
    )
    repos = "GET /oauth-tokens/:id/authorized-repos"
    assert value(port, "connect_bitbucket_tfe_calls_total", kind=repos, status="200") >= 1

    # A token Bitbucket refuses, and a Slack that says 429: each moves its metric.
    fake_tfe.revoked[token] = "422"
    eventually(
        lambda: value(port, "connect_bitbucket_health_checks_total", outcome="refused") >= 1,
        timeout=10,
    )
    fake_slack.method_rate["chat.postEphemeral"] = (0.01, 1)
    for _ in range(3):
        slack.command("status", user=OWNER)
    eventually(
        lambda: (
            value(
                port,
                "connect_bitbucket_slack_calls_total",
                method="chat.postEphemeral",
                outcome="ratelimited",
            )
            >= 1
        ),
        timeout=10,
    )
    # Nothing in a label names the organization, a person, a token or a client.
    text = HTTP.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    client_id = bot.runtime.service.get(1).oauth_client_id
    for secret_ish in ("acme-infra", OWNER, token, client_id or "oc-"):
        assert secret_ish not in text


@pytest.mark.sqlite_only
def test_a_lane_falling_behind_shows_in_its_lateness(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from bot.connections.model import Connection

    port = free_port()
    bot = make_bot(METRICS_PORT=str(port), HEALTH_EVERY="0.3")
    slack = SlackDriver(fake_slack, bot.url)
    connected(slack, fake_slack, fake_tfe, bot)
    bot.runtime.due.shutdown()  # the lanes stop taking work: what is due waits
    sessions = bot.runtime.courier.outbox._sessions
    with sessions.begin() as session:
        past = bot.runtime.service._clock.now() - timedelta(seconds=120)
        session.execute(update(Connection).values(next_due_at=past))
    assert value(port, "connect_bitbucket_due_items", lane="bulk") == 1
    assert value(port, "connect_bitbucket_due_oldest_seconds", lane="bulk") >= 119
