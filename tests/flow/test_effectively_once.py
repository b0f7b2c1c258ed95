"""Effectively once: an approval card Slack took but whose answer was lost is found in the
approver's DM (message metadata, im:history) and adopted, never posted twice; after the
decision no card anywhere keeps live buttons, also when the bot was killed mid-call."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.slack import FakeSlack, SlackDriver
from tests.flow.steps import OWNER, REASON, SERVICE, WHY, open_form
from tests.harness import BotProcess, RunningBot, eventually

FIRST, SECOND = "U9APPROVER", "U7OTHER"
CARD = rb"connect_bitbucket_card"
POST = r"/api/chat.postMessage"


def cards(fake_slack: FakeSlack, approver: str) -> list[Any]:
    return [m for m in fake_slack.channel_messages("D" + approver) if "acme-infra" in m.text]


def live(message: Any) -> bool:
    return '"Approve"' in json.dumps(message.blocks)


def test_a_card_whose_answer_was_lost_is_adopted_not_posted_again(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    bot = make_bot(APPROVERS=f"{FIRST} {SECOND}")
    slack = SlackDriver(fake_slack, bot.url)
    # Slack takes the first card, but the connection breaks before the answer.
    fake_slack.fail("POST", POST, mode="drop_after", body_contains=CARD)
    slack.submit(open_form(slack), {**SERVICE, WHY: REASON})
    slack.wait_for_view_text(OWNER, "waits for an approver")
    eventually(lambda: cards(fake_slack, FIRST) and cards(fake_slack, SECOND), timeout=15)
    eventually(lambda: len(bot.runtime.approvals.cards.of(1)) == 2, timeout=15)
    time.sleep(1.5)  # the outbox would have tried again by now
    assert len(cards(fake_slack, FIRST)) == 1 and len(cards(fake_slack, SECOND)) == 1
    adopted = {(c.channel, c.ts) for c in bot.runtime.approvals.cards.of(1)}
    assert adopted == {
        (m.channel, m.ts) for m in cards(fake_slack, FIRST) + cards(fake_slack, SECOND)
    }


@pytest.mark.starts_early
@pytest.mark.parametrize("replicas", [1, 2])
def test_after_a_kill_mid_card_no_card_keeps_live_buttons_after_the_decision(
    env: dict[str, str], fake_slack: FakeSlack, tmp_path: Path, replicas: int
) -> None:
    """One replica: it is killed and started again. Two: the other takes over."""
    # Slack calls time out after 6 s here: a card cut off by the kill may land until then.
    env = {**env, "APPROVERS": f"{FIRST} {SECOND}", "SLACK_TIMEOUT": "6"}
    log = tmp_path / "bot.log"
    first = BotProcess(env, log).wait_ready()
    other = BotProcess(env, tmp_path / "other.log").wait_ready() if replicas == 2 else None
    slack = SlackDriver(fake_slack, first.url)
    # Slack holds the first card 4 s, then takes it; the bot is killed meanwhile.
    fake_slack.fail("POST", POST, mode="drop_after", delay=4, body_contains=CARD)
    slack.submit(open_form(slack), {**SERVICE, WHY: REASON})
    eventually(
        lambda: [r for r in fake_slack.requests_to("POST", POST) if CARD in r.body], timeout=15
    )
    first.kill()
    second = other or BotProcess(env, log).wait_ready()
    try:
        slack = SlackDriver(fake_slack, second.url)
        # Both approvers have a card with buttons, one each: the next process looked in the
        # DM only after the held call could have landed, and adopted the card Slack took.
        eventually(lambda: cards(fake_slack, FIRST) and cards(fake_slack, SECOND), timeout=25)
        time.sleep(1)
        assert len(cards(fake_slack, FIRST)) == 1 and len(cards(fake_slack, SECOND)) == 1
        found = slack.find_button("Approve", channel="D" + FIRST)
        slack.click("", user=FIRST, found=found)
        view = slack.wait_for_view(FIRST, lambda v: v.get("callback_id") == "approve_connection")
        slack.submit(view, {}, user=FIRST)
        slack.wait_for_view_text(FIRST, "You approved")
        eventually(
            lambda: not [m for a in (FIRST, SECOND) for m in cards(fake_slack, a) if live(m)],
            timeout=15,
            message=lambda: repr(
                [
                    (m.channel, m.ts, m.text)
                    for a in (FIRST, SECOND)
                    for m in cards(fake_slack, a)
                    if live(m)
                ]
            ),
        )
    finally:
        assert second.stop() == 0
