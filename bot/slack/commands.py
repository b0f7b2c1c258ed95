"""/connect-bitbucket and its subcommands."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.connections.service import ConnectionNotFound
from bot.slack import blocks, ids
from bot.slack.deps import SlackDeps
from bot.slack.ending import cancel
from bot.slack.modals import TRIGGER_FAILED

HELP = (
    "*/connect-bitbucket* connects Bitbucket Cloud to a Terraform organization as a VCS "
    "provider, step by step.\n"
    "• `/connect-bitbucket [organization]`: start a connection (opens a form)\n"
    "• `/connect-bitbucket cancel 12`: cancel connection #12 (the bot deletes the OAuth "
    "client it made in Terraform if no token was issued)\n"
    "• `/connect-bitbucket help`: this message\n"
    "You'll need a Bitbucket account with admin access to the team's repositories "
    "(a shared service account is best) and about five minutes."
)


NOT_ALLOWED = (
    "You are not among the people who may connect Bitbucket here (ALLOWED_USERS). "
    "Ask whoever runs this bot to add you."
)
CANCEL_USAGE = (
    "Say which connection to cancel by its number, e.g. `/connect-bitbucket cancel 12` "
    "(the number is in its progress message)."
)


def register(app: App, deps: SlackDeps) -> None:
    def on_cancel(ack: Ack, body: dict[str, Any], args: list[str]) -> None:
        number = args[0].lstrip("#") if len(args) == 1 else ""
        if not number.isdigit() or len(number) > 9:
            ack(text=CANCEL_USAGE)
            return
        ack()
        user, channel = body.get("user_id", ""), body.get("channel_id")

        def run() -> None:
            try:
                connection = deps.service.get(int(number))
            except ConnectionNotFound:
                deps.notifier.tell_user(channel, user, f"There is no connection #{number}.")
                return
            said = cancel(deps, connection, user, body.get("user_name") or user)
            deps.notifier.tell_user(channel, user, said)

        deps.work.submit(
            "cancelling a connection",
            run,
            on_error=lambda _e: deps.notifier.tell_user(
                channel, user, "Something went wrong while cancelling. Try again in a minute."
            ),
        )

    @app.command(ids.COMMAND)
    def on_command(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        text = (body.get("text") or "").strip()
        word = text.split()[0].lower() if text else ""
        if word in ("help", "-h", "--help"):
            ack(text=HELP)
            return
        if word == "cancel":
            on_cancel(ack, body, text.split()[1:])
            return
        user = body.get("user_id", "")
        # No duplicate check here: Slack does not retry slash commands, and a trigger
        # opens one modal at most.
        ack()
        form = blocks.RequestForm(channel_id=body.get("channel_id", ""), organization=text)

        def open_if_allowed() -> None:
            # A user group in ALLOWED_USERS means asking Slack, so this runs after the ack.
            if not deps.allowed.includes(user):
                deps.notifier.tell_user(form.channel_id, user, NOT_ALLOWED)
                return
            client.views_open(trigger_id=body["trigger_id"], view=blocks.request_view(form))

        deps.work.submit(
            "opening the connect form",
            open_if_allowed,
            urgent=True,
            on_error=lambda _e: deps.notifier.tell_user(form.channel_id, user, TRIGGER_FAILED),
        )
