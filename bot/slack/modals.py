"""Opening a modal from a trigger_id, which Slack honours for 3 seconds and once."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from bot.slack.deps import SlackDeps

TRIGGER_FAILED = (
    "Slack did not let me open the form in time (it allows 3 seconds). "
    "Please try again: run /connect-bitbucket or press the button once more."
)


def open_modal(
    deps: SlackDeps,
    client: WebClient,
    *,
    trigger_id: str,
    view: dict[str, Any],
    channel: str | None,
    user: str,
) -> None:
    """Open `view` on the urgent pool; if Slack refuses, tell the user how to retry."""
    deps.work.submit(
        "opening a form",
        lambda: client.views_open(trigger_id=trigger_id, view=view),
        urgent=True,
        on_error=lambda _e: deps.notifier.tell_user(channel, user, TRIGGER_FAILED),
    )
