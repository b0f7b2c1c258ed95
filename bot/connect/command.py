"""/connect-bitbucket and its subcommands."""

from __future__ import annotations

from functools import partial
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.connect.request_form import open_request_form
from bot.connections.service import ConnectionNotFound
from bot.deps import SlackDeps
from bot.slack import ids
from bot.slack.ending import cancel

HELP = (
    "*/connect-bitbucket* connects Bitbucket Cloud to a Terraform organization as a VCS "
    "provider, step by step.\n"
    "• `/connect-bitbucket [organization]`: start a connection (opens a form)\n"
    "• `/connect-bitbucket status`: your connections, this channel's, and what waits for "
    "your approval; `status 12` or `status my-org` shows one in full\n"
    "• `/connect-bitbucket cancel 12`: cancel connection #12 (the bot deletes the OAuth "
    "client it made in Terraform if no token was issued)\n"
    "• `/connect-bitbucket rotate my-org` (or `rotate 12`): give a connection a new consumer "
    "key and secret; its workspaces stay linked\n"
    "• `/connect-bitbucket help`: this message\n"
    "`status`, `cancel`, `rotate` and `help` are commands: to connect an organization named "
    "so, type its name into the form.\n"
    "You'll need a Bitbucket account with admin access to the team's repositories "
    "(a shared service account is best) and about five minutes."
)


CANCEL_USAGE = (
    "Say which connection to cancel by its number, e.g. `/connect-bitbucket cancel 12` "
    "(the number is in its progress message)."
)


def on_command(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    """`help`, `cancel N`, or anything else: the organization to prefill the form with."""
    text = (body.get("text") or "").strip()
    word = text.split()[0].lower() if text else ""
    if word in ("help", "-h", "--help"):
        ack(text=HELP)
        return
    if word == "cancel":
        _on_cancel(ack, body, text.split()[1:], deps)
        return
    feature = deps.subcommands.get(word)
    if feature is not None:
        ack()
        deps.work.submit(
            f"answering {word}",
            partial(feature, deps, client, body, " ".join(text.split()[1:2])),
            urgent=True,
        )
        return
    if word == "status":
        ack()
        user, channel = body.get("user_id", ""), body.get("channel_id", "")
        deps.work.submit(
            "showing the status",
            partial(show_status, deps, user, channel, " ".join(text.split()[1:2])),
            on_error=lambda _e: deps.notifier.tell_user(
                channel, user, "Something went wrong while gathering the status. Try again."
            ),
        )
        return
    # No duplicate check here: Slack does not retry slash commands, and a trigger
    # opens one modal at most.
    ack()
    open_request_form(
        deps,
        client,
        user=body.get("user_id", ""),
        trigger_id=body["trigger_id"],
        channel=body.get("channel_id", ""),
        organization=text,
    )


def show_status(deps: SlackDeps, user: str, channel: str, which: str) -> None:
    """`status`: the caller's overview; `status 12` or `status acme`: one connection."""
    if which:
        found = deps.overview.detail(which.lstrip("#"), user)
        if found is None:
            deps.notifier.tell_user(
                channel, user, f"No connection is numbered or named {which[:100]}."
            )
            return
        text, body = found
    else:
        text, body = deps.overview.status(user, channel)
    deps.notifier.tell_user(channel, user, text, blocks=body)


def _on_cancel(ack: Ack, body: dict[str, Any], args: list[str], deps: SlackDeps) -> None:
    number = args[0].lstrip("#") if len(args) == 1 else ""
    if not number.isdigit() or len(number) > 9:
        ack(text=CANCEL_USAGE)
        return
    ack()
    user, channel = body.get("user_id", ""), body.get("channel_id")
    deps.work.submit(
        "cancelling a connection",
        partial(cancel_by_number, deps, body, int(number)),
        on_error=lambda _e: deps.notifier.tell_user(
            channel, user, "Something went wrong while cancelling. Try again in a minute."
        ),
    )


def cancel_by_number(deps: SlackDeps, body: dict[str, Any], number: int) -> None:
    """`/connect-bitbucket cancel N`: cancel with clean-up, if the caller may."""
    user, channel = body.get("user_id", ""), body.get("channel_id")
    try:
        connection = deps.service.get(number)
    except ConnectionNotFound as missing:
        deps.notifier.tell_user(channel, user, missing.message)
        return
    said = cancel(deps, connection, user, body.get("user_name") or user)
    deps.notifier.tell_user(channel, user, said)


def register(app: App) -> None:
    app.command(ids.COMMAND)(on_command)
