"""Finding cards in the bot's DMs: when Slack will not let the bot read them, the warning
names what would mend it, and asks for im:history only when that scope is what is missing."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.slack.dm_cards import DmCards
from tests.fakes.slack import BOT_TOKEN, FakeSlack


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


def cards(slack: FakeSlack) -> DmCards:
    return DmCards(WebClient(token=BOT_TOKEN, base_url=slack.url + "/api/"))


def warned(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.slack.dm_cards"]


def test_a_missing_scope_asks_for_im_history_once(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    slack.scopes.remove("im:history")
    found = cards(slack)
    with caplog.at_level(logging.WARNING):
        assert found.find("D1OWNER", 1) == [] and found.find("D1OWNER", 2) == []
    assert warned(caplog) == [
        "cannot read the bot's DMs to find cards Slack took; add the im:history scope"
    ]


def test_another_refusal_is_said_as_it_is_without_asking_for_a_scope(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    slack.unknown_methods.add("conversations.history")
    with caplog.at_level(logging.WARNING):
        assert cards(slack).find("D1OWNER", 1) == []
    said = warned(caplog)
    assert len(said) == 1 and "unknown_method" in said[0] and "im:history" not in said[0]
