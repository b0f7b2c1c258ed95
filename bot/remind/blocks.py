"""Keeping after stalled connections: the owner's reminder, the escalation, the ending."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block

from bot.connections.model import Connection
from bot.connections.states import State
from bot.slack import ids
from bot.slack.blocks.describe import when
from bot.slack.blocks.kit import button, context_block, section, steps_of
from bot.slack.blocks.remedies import cancel_button
from bot.slack.text import escape

_NEXT_MOVE = {
    State.AWAITING_CREDENTIALS: "create the OAuth consumer in Bitbucket and enter its Key and "
    "Secret",
    State.AWAITING_CALLBACK: "paste the callback URL into the consumer, then press "
    "*I've updated the callback URL*",
    State.AWAITING_AUTHORIZATION: "open the *Authorize* link and grant access in Bitbucket",
    State.AWAITING_LINK: "have a Bitbucket administrator create the application link, then "
    "press *I've created the application link*",
    State.AWAITING_SSH_KEY: "add the SSH key to the service user in Bitbucket, then press "
    "*I've added the SSH key*",
}


def _stuck_at(connection: Connection) -> str:
    shown, index = steps_of(connection)
    if index >= len(shown):
        return "the end"
    return f"step {index + 1}: {shown[index][1]}"


def reminder_message(
    connection: Connection, *, number: int, expires: datetime
) -> tuple[str, list[dict[str, Any]]]:
    """The owner's DM about a stalled connection, with Resume and Cancel."""
    org = escape(connection.organization)
    move = _NEXT_MOVE.get(connection.state, "finish the connection")
    blocks: list[Block] = [
        section(
            f":bell: Your Bitbucket connection for *{org}* (#{connection.id}) has made no "
            f"progress since {when(connection.progressed_at)}. It is at {_stuck_at(connection)}."
            f"\n*Next:* {move}. Press *Resume* to pick it up where you left off."
        ),
        context_block(
            f"Reminder {number}. If nothing happens it expires {when(expires)}, and the bot "
            "removes what it created in Terraform."
        ),
        ActionsBlock(
            block_id="reminder",
            elements=[
                button("Resume", ids.RESUME, value=str(connection.id), primary=True),
                cancel_button(connection),
            ],
        ),
    ]
    return f"Reminder: your Bitbucket connection for {org} is waiting for you", [
        b.to_dict() for b in blocks
    ]


def escalation_message(
    connection: Connection, *, reminders: int, approvers: tuple[str, ...]
) -> tuple[str, list[dict[str, Any]]]:
    """For the channel and the approvers: a connection its owner has not finished."""
    org = escape(connection.organization)
    mentions = " ".join(f"<!subteam^{a}>" if a.startswith("S") else f"<@{a}>" for a in approvers)
    helpers = f" {mentions}, can you help?" if mentions else ""
    if connection.state == State.AWAITING_APPROVAL:
        ask = (
            f" {mentions}, please approve or deny it from the card in your direct messages."
            if mentions
            else ""
        )
        text = (
            f":rotating_light: The request to connect {connection.which_bitbucket.words} to "
            f"*{org}* "
            f"(#{connection.id}, by <@{connection.owner_id}>) has waited for a decision since "
            f"{when(connection.progressed_at)}, after {reminders} reminders to the approvers."
            f"{ask}"
        )
        return f"Request #{connection.id} for {org} waits for a decision", [section(text).to_dict()]
    text = (
        f":rotating_light: Connection #{connection.id} for *{org}* has made no progress since "
        f"{when(connection.progressed_at)}, after {reminders} reminders to its owner "
        f"<@{connection.owner_id}>. It is stuck at {_stuck_at(connection)}.{helpers} "
        f"The owner can press *Resume* in my reminder, or cancel it with "
        f"`/connect-bitbucket cancel {connection.id}`."
    )
    return f"Connection #{connection.id} for {org} is stalled", [section(text).to_dict()]


def ended_message(connection: Connection, summary: str) -> tuple[str, list[dict[str, Any]]]:
    """To the owner when a connection expired or was cancelled: what was cleaned up."""
    org = escape(connection.organization)
    verb = "expired" if connection.state == State.EXPIRED else "was cancelled"
    text = (
        f":wastebasket: Connection #{connection.id} for *{org}* {verb}. {escape(summary)}\n"
        f"To connect {org} later, run `/connect-bitbucket {org}`."
    )
    return f"Connection #{connection.id} for {org} {verb}", [section(text).to_dict()]
