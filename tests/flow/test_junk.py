"""Junk at the door: huge, unsigned, malformed and tampered requests get a clean 4xx or a
polite answer, never a 500, and never a log line each."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest

from tests.fakes.slack import FakeSlack, SlackDriver
from tests.flow.steps import OWNER, started
from tests.harness import HTTP, RunningBot, eventually

FORM = "application/x-www-form-urlencoded"

# The door, the forms and the outside services: one database is enough.
pytestmark = pytest.mark.sqlite_only


def test_large_unsigned_bodies_are_refused_unread(slack: SlackDriver, bot: RunningBot) -> None:
    for size in (1, 10, 100):
        body = b"x" * (size * 1024 * 1024 + 1)
        response = HTTP.post(slack.bot_url, content=body, headers={"Content-Type": FORM})
        assert response.status_code == 413, size
    small = HTTP.post(slack.bot_url, content=b"command=/x", headers={"Content-Type": FORM})
    assert small.status_code == 401


@pytest.mark.parametrize("timestamp", ["soon", "", "12.5", "9" * 40])
def test_a_malformed_timestamp_is_401(slack: SlackDriver, timestamp: str) -> None:
    response = slack.post(
        b"command=%2Fconnect-bitbucket", FORM, headers={"X-Slack-Request-Timestamp": timestamp}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"payload=not-json", FORM),
        (b"payload=%5B%5D", FORM),  # []
        (b"payload=null", FORM),
        (b"payload=%7B%7D", FORM),  # {}
        (b"\xff\xfe\x00junk", FORM),
        (b"[1, 2]", "application/json"),
        (b"{not json", "application/json"),
        (b"nothing=here", FORM),
    ],
)
def test_signed_but_malformed_bodies_are_400(
    slack: SlackDriver, body: bytes, content_type: str
) -> None:
    assert slack.post(body, content_type).status_code == 400


def test_refusals_are_summarized_not_logged_one_by_one(
    slack: SlackDriver, log_lines: list[str]
) -> None:
    before = len(log_lines)
    for _ in range(30):
        slack.post(b"payload=not-json", FORM)
        HTTP.post(slack.bot_url, content=b"command=/x", headers={"Content-Type": FORM})
    new = log_lines[before:]
    assert not [line for line in new if " ERROR " in line]
    assert len([line for line in new if "refused requests" in line]) <= 1


@pytest.mark.parametrize("value", ["abc", "1 OR 1=1", [1], "9" * 23, "1.9", True, None, "0"])
def test_a_tampered_button_value_is_no_such_connection(
    slack: SlackDriver, fake_slack: FakeSlack, bot: RunningBot, value: object
) -> None:
    started(slack, fake_slack)
    message, block, button = slack.find_button("Enter Key and Secret")
    payload = slack.click_payload(message, block, button, OWNER)
    payload["actions"][0]["value"] = value
    response = slack.post(urlencode({"payload": json.dumps(payload)}).encode(), FORM)
    assert response.status_code == 200
    eventually(
        lambda: [
            m for m in fake_slack.ephemeral if "no longer exists" in m.text and m.user == OWNER
        ]
    )
    time.sleep(0.2)
    assert not [
        v for v in fake_slack.views.values() if v.view.get("callback_id") == "connect_credentials"
    ]
