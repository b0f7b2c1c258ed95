"""The bot's Slack client: what it sets up around slack_sdk's WebClient."""

from __future__ import annotations

import logging

from bot.slack.client import SlackClient


def test_slack_sdk_is_not_asked_to_format_bodies_for_debug_lines() -> None:
    """slack_sdk formats every request and answer, whole views included, whenever its
    logger's own level is DEBUG or NOTSET (it does not ask the effective level)."""
    client = SlackClient(token="xoxb-fake-token-not-real", base_url="http://127.0.0.1:9/api/")
    try:
        assert not client._logger.level <= logging.DEBUG
    finally:
        client.close()


def test_a_logger_given_is_kept() -> None:
    mine = logging.getLogger("tests.slack")
    client = SlackClient(
        token="xoxb-fake-token-not-real", base_url="http://127.0.0.1:9/api/", logger=mine
    )
    try:
        assert client._logger is mine
    finally:
        client.close()
