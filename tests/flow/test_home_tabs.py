"""App Home tabs are published with the hash of the last one: a publish that hung (a replica
killed mid-call) and lands after a newer one is refused by Slack, never shown over it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from bot.connections.model import AccountKind
from bot.connections.service import NewConnection
from tests.fakes.slack import FakeSlack, SlackDriver
from tests.flow.steps import OWNER
from tests.harness import RunningBot, eventually


def start(bot: RunningBot, organization: str) -> None:
    bot.runtime.service.start(
        NewConnection(
            request_ref=f"home:{organization}",
            team_id="T",
            channel_id="C1HOME",
            owner_id=OWNER,
            organization=organization,
            account_kind=AccountKind.SERVICE_ACCOUNT,
            bitbucket_username="svc",
        )
    )


@pytest.mark.sqlite_only
def test_a_late_publish_never_overwrites_a_newer_home_tab(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    bot = make_bot()
    slack = SlackDriver(fake_slack, bot.url)
    start(bot, "first-org")
    bot.runtime.courier.deliver(1)
    eventually(lambda: "first-org" in json.dumps(fake_slack.homes.get(OWNER)))
    # The next publish hangs, then Slack takes it after all and the answer is lost.
    publishes = len(fake_slack.requests_to("POST", r"/api/views.publish"))
    fake_slack.fail("POST", r"/api/views.publish", delay=2.0, mode="drop_after")
    start(bot, "second-org")  # its Home tab is built now, and its publish hangs
    eventually(lambda: len(fake_slack.requests_to("POST", r"/api/views.publish")) > publishes)
    start(bot, "third-org")
    slack.event({"type": "app_home_opened", "user": OWNER, "tab": "home"})
    eventually(lambda: "third-org" in json.dumps(fake_slack.homes.get(OWNER)), timeout=5)
    time.sleep(2.5)  # the hung publish has landed by now
    history = [json.dumps(v) for v in fake_slack.home_history[OWNER]]
    newest = next(i for i, v in enumerate(history) if "third-org" in v)
    assert all("third-org" in v for v in history[newest:]), "an older tab was shown again"
    assert "third-org" in json.dumps(fake_slack.homes[OWNER])
