"""Listeners called directly, the way Bolt calls them, with stubs for Slack and the bot.

What must be answered in the ack (help, usage, field errors, a tampered id) is answered
there, without touching the database or an outside service.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.connect import buttons, submissions
from bot.connect import command as slash
from bot.deps import SlackDeps
from bot.slack import events, ids


class Recorder:
    """Stands in for ack() and records what it was called with."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


class Untouchable:
    """A dependency that must not be used on this path: any attribute access fails."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} was used before the ack")


class StubWork:
    def __init__(self) -> None:
        self.submitted: list[str] = []

    def submit(self, what: str, fn: Any, **_: Any) -> None:
        self.submitted.append(what)


def deps(**given: Any) -> SlackDeps:
    fields = dict.fromkeys(SlackDeps.__dataclass_fields__, Untouchable())
    fields["subcommands"] = {}  # a plain mapping read before the ack: no call behind it
    fields.update(given)
    return SlackDeps(**fields)


def command(text: str) -> dict[str, Any]:
    return {"text": text, "user_id": "U1", "channel_id": "C1", "trigger_id": "T1"}


def credentials_body(key: str, secret: str, metadata: object) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "user": {"id": "U1"},
        "view": {
            "id": "V1",
            "hash": "h",
            "private_metadata": json.dumps(metadata),
            "state": {
                "values": {
                    ids.KEY: {ids.VALUE: {"value": key}},
                    ids.SECRET: {ids.VALUE: {"value": secret}},
                }
            },
        },
    }


def test_help_is_the_ack_itself() -> None:
    ack = Recorder()
    slash.on_command(ack, command("help"), Untouchable(), deps())  # type: ignore[arg-type]
    assert ack.calls == [{"text": slash.HELP}]


@pytest.mark.parametrize("text", ["cancel", "cancel abc", "cancel 1 2", "cancel 1234567890"])
def test_cancel_without_a_number_gets_its_usage(text: str) -> None:
    ack = Recorder()
    slash.on_command(ack, command(text), Untouchable(), deps())  # type: ignore[arg-type]
    assert ack.calls == [{"text": slash.CANCEL_USAGE}]


def test_a_command_acks_first_and_leaves_the_form_to_the_pool() -> None:
    ack, work = Recorder(), StubWork()
    slash.on_command(ack, command("acme"), Untouchable(), deps(work=work))  # type: ignore[arg-type]
    assert ack.calls == [{}] and work.submitted == ["opening the connect form"]


def test_empty_key_and_secret_are_refused_on_their_fields() -> None:
    ack = Recorder()
    submissions.on_credentials(
        ack, credentials_body("", "", {"connection": 1}), Untouchable(), deps()
    )  # type: ignore[arg-type]
    assert ack.calls[0]["response_action"] == "errors"
    assert set(ack.calls[0]["errors"]) == {ids.KEY, ids.SECRET}


@pytest.mark.parametrize("metadata", [{"connection": "1 OR 1=1"}, {"connection": [1]}, [1], None])
def test_a_tampered_connection_id_is_no_connection(metadata: object) -> None:
    ack = Recorder()
    body = credentials_body("key123", "fake-secret-value", metadata)
    submissions.on_credentials(ack, body, Untouchable(), deps())  # type: ignore[arg-type]
    assert ack.calls[0]["response_action"] == "update"
    assert "no longer exists" in json.dumps(ack.calls[0]["view"])


def test_a_button_acks_before_any_work() -> None:
    ack, work = Recorder(), StubWork()
    body = {"user": {"id": "U1"}, "actions": [{"value": "7"}], "channel": {"id": "C1"}}
    buttons.on_resume(ack, body, Untouchable(), deps(work=work))  # type: ignore[arg-type]
    assert ack.calls == [{}] and work.submitted == ["resuming the connection"]


def test_waitress_queue_warnings_are_one_line_per_burst() -> None:
    import logging

    from bot.gate import OncePerBurst

    burst = OncePerBurst(quiet_for=0.2)
    record = logging.LogRecord(
        "waitress.queue", logging.WARNING, "", 0, "Task queue depth is %d", (3,), None
    )
    assert [burst.filter(record) for _ in range(300)].count(True) == 1
    import time

    time.sleep(0.25)  # quiet: the next burst gets its one line
    assert burst.filter(record)


def test_member_news_acks_before_writing_it_down() -> None:
    ack, work = Recorder(), StubWork()
    from slack_bolt import BoltContext
    from slack_bolt.authorization import AuthorizeResult

    event = {
        "type": "user_change",
        "user": {"id": "U1MEMBER", "team_id": "T1", "is_restricted": True},
    }
    context = BoltContext(
        authorize_result=AuthorizeResult(enterprise_id=None, team_id="T1", bot_token="xoxb-fake")
    )
    events.on_member_news(ack, event, context, deps(work=work))  # type: ignore[arg-type]
    assert ack.calls == [{}] and work.submitted == ["noting a member change"]
