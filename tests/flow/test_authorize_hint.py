"""Authorize opened, no token after a few minutes: the owner hears the likely causes once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE
from tests.flow.steps import CHANNEL, OWNER, at_callback
from tests.harness import RunningBot, eventually

# The door, the forms and the outside services: one database is enough.
pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def bot(env: dict[str, str], log_lines: list[str]) -> Iterator[RunningBot]:
    # 36 polls is "a few minutes" at the default 5 s; at 0.05 s it is under 2 s.
    running = RunningBot.from_env({**env, "TOKEN_POLL_EVERY": "0.05"})
    yield running
    running.stop()


def test_no_token_after_authorize_brings_one_hint_with_the_callback_url(
    slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE, bot: RunningBot
) -> None:
    at_callback(slack, fake_slack, fake_tfe)
    slack.click("I've updated the callback URL", user=OWNER)
    clicked = time.monotonic()
    slack.click("Authorize", user=OWNER, found=slack.find_button("Authorize"))

    def hints() -> list:  # type: ignore[type-arg]
        return [m for m in fake_slack.channel_messages("D" + OWNER) if "No token yet" in m.text]

    hint = eventually(
        hints,
        timeout=10,
        message=lambda: (  # type: ignore[arg-type]
            f"no hint; DMs: {[m.text for m in fake_slack.channel_messages('D' + OWNER)]}, "
            f"connection: {vars(bot.runtime.service.get(1))}"
        ),
    )[0]
    assert time.monotonic() - clicked >= 36 * 0.05
    text = json.dumps(hint.blocks)
    client = fake_tfe.bitbucket_clients("acme-infra")[0]
    assert client.attributes["callback-url"] in text
    causes = [
        text.index(words)
        for words in (
            "callback URL is not exactly Terraform's",
            "wrong Bitbucket account",
            "not logged in to Terraform",
        )
    ]
    assert causes == sorted(causes)  # in that order
    time.sleep(0.5)  # several more sweeps
    assert len(hints()) == 1

    fake_tfe.authorize(client.id)
    eventually(lambda: len(fake_slack.channel_messages(CHANNEL)) == 2)
