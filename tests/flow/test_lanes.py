"""Lanes: what a person waits on is never queued behind bulk work, and a refusal from Slack
delays only what it refuses."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import event, insert

from bot.connections.model import Connection
from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE
from tests.flow.steps import CHANNEL, KEY, OWNER, SECRET, credentials_form, started
from tests.harness import RunningBot, eventually

pytestmark = pytest.mark.sqlite_only  # the lanes' claims are tested on both in test_service


def connected_backlog(bot: RunningBot, fake_tfe: FakeTFE, count: int) -> None:
    """`count` connected connections, each with a healthy client in Terraform, all due for a
    health check long before anything else."""
    clients = [fake_tfe.add_client_by_hand("acme-infra") for _ in range(count)]
    now = bot.runtime.service._clock.now()
    long_ago = now - timedelta(days=2)
    rows = [
        {
            "request_ref": f"backlog:{i}",
            "team_id": "T",
            "channel_id": "C0BACKLOG",
            "owner_id": "U0BACKLOG",
            "organization": f"backlog-{i}",
            "account_kind": "service_account",
            "state": "connected",
            "oauth_client_id": client,
            "duplicates_acknowledged": False,
            "created_at": long_ago,
            "updated_at": long_ago,
            "progressed_at": long_ago,
            "next_due_at": long_ago + timedelta(seconds=i),
        }
        for i, client in enumerate(clients)
    ]
    with bot.runtime.engine.begin() as connection:
        connection.execute(insert(Connection.__table__), rows)


def health_checks_done(fake_tfe: FakeTFE) -> int:
    return len(fake_tfe.requests_to("GET", r"/api/v2/oauth-clients/oc-byhand[0-9a-f]+"))


def test_a_reminder_due_behind_a_thousand_health_checks_goes_out_on_time(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    fake_tfe.latency = 0.02
    bot = make_bot(STALL_AFTER="2", REMIND_EVERY="3600", TFE_RATE="20", HEALTH_EVERY="86400")
    slack = SlackDriver(fake_slack, bot.url)
    started(slack, fake_slack)
    progressed = bot.runtime.service.get(1).progressed_at
    connected_backlog(bot, fake_tfe, 1000)
    reminder = eventually(
        lambda: [m for m in fake_slack.channel_messages("D" + OWNER) if "Reminder" in m.text],
        timeout=15,
    )
    late = time.time() - (progressed.timestamp() + 2)
    assert late < 2.5, f"the reminder came {late:.1f} s after it was due"
    assert reminder
    # The backlog is being worked (its lane looks within a second of the rows appearing,
    # which on a loaded machine can be just after the reminder went) and is far from done:
    # the reminder did not wait for it (at 17 checks a second, 1,000 take about a minute).
    done = eventually(lambda: health_checks_done(fake_tfe), timeout=10)
    assert done < 1000, done


def test_a_429_storm_on_slack_leaves_token_checks_on_time(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(TOKEN_POLL_EVERY="0.3")
    slack = SlackDriver(fake_slack, bot.url)
    started(slack, fake_slack)
    slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
    slack.wait_for_view_text(OWNER, "OAuth client created")
    slack.click("Authorize", user=OWNER, found=slack.find_button("Authorize"))
    eventually(lambda: bot.runtime.service.get(1).authorize_clicked_at is not None)
    client = fake_tfe.bitbucket_clients("acme-infra")[0].id
    tokens = rf"/api/v2/oauth-clients/{client}/oauth-tokens"
    # From now on Slack refuses every message with a 429 and a long Retry-After.
    fake_slack.fail(
        "POST",
        r"/api/chat\.(postMessage|update)",
        status=429,
        body={"ok": False, "error": "ratelimited"},
        headers={"Retry-After": "30"},
        times=10_000,
    )
    before = len(fake_tfe.requests_to("GET", tokens))
    # TOKEN_POLL_EVERY=0.3 s: five checks take 1.5 s. A lane held by Slack's 30 s Retry-After
    # would make one or two in the 10 s allowed (a fixed 3 s window also failed whenever a
    # loaded machine stalled the bot for a second or two).
    eventually(
        lambda: len(fake_tfe.requests_to("GET", tokens)) - before >= 5,
        timeout=10,
        message="token checks stopped while Slack refused messages",
    )
    fake_tfe.authorize(client)
    eventually(lambda: bot.runtime.service.get(1).state == "connected", timeout=5)
    # What Slack refused is owed, with its attempts counted and Retry-After honoured.
    owed = eventually(lambda: [m for m in bot.runtime.courier.outbox.owed() if m.attempts >= 1])
    assert all(m.last_error == "ratelimited" for m in owed), [m.last_error for m in owed]
    now = bot.runtime.service._clock.now()
    assert all(m.due_at >= now + timedelta(seconds=20) for m in owed), [m.due_at for m in owed]
    assert not [m for m in fake_slack.channel_messages(CHANNEL) if "is connected" in m.text]


def test_at_a_short_health_rhythm_the_bulk_lanes_look_when_work_is_due_not_ten_times_a_second(
    make_bot: Callable[..., RunningBot],
) -> None:
    # HEALTH_EVERY=0.3 once had the bulk and moves lanes claim every 0.1 s with nothing to
    # do (20 looks a second on every replica); they now sleep until their next item is due,
    # at most a second, like the people's lane.
    bot = make_bot(HEALTH_EVERY="0.3")
    looks: list[str] = []

    def count(_c: object, _cur: object, statement: str, *_rest: object) -> None:
        name = threading.current_thread().name
        if statement.lstrip().startswith("SELECT") and name in ("lane-bulk", "lane-moves"):
            looks.append(name)

    time.sleep(1.5)  # past start-up's first looks
    event.listen(bot.runtime.engine, "before_cursor_execute", count)
    time.sleep(3)
    event.remove(bot.runtime.engine, "before_cursor_execute", count)
    # A claim and a "when is the next one due" each second per lane: 12 in 3 s, against 60.
    assert 0 < looks.count("lane-bulk") <= 12 and 0 < looks.count("lane-moves") <= 12, looks
