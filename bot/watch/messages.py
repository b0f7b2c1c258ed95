"""What the health watch owes Slack: the channel, the owner and the approvers hear a
connection broke and that it works again; the owner hears once when the token works but its
account sees no repository; the channel hears when the connection rests on someone who left."""

from __future__ import annotations

from functools import partial

from slack_sdk.models.blocks import ActionsBlock

from bot.connections.model import Connection, HealthOutcome
from bot.connections.outbox import Owed
from bot.connections.states import State
from bot.slack.blocks.kit import section
from bot.slack.blocks.remedies import reauthorize_button
from bot.slack.courier import Send
from bot.slack.notify import Notifier
from bot.slack.text import code, escape
from bot.watch.blocks import broken_message, healed_message, owner_left_message


def announce_broken(notifier: Notifier, connection: Connection, _detail: str = "") -> None:
    """The channel, the owner and every approver hear it broke, with the remedies."""
    if connection.state != State.BROKEN:
        return  # it healed before this went out
    text, body = broken_message(connection)
    notifier.client.chat_postMessage(channel=connection.announce_channel, text=text, blocks=body)
    for user in {connection.owner_id, *notifier.approvers.members()}:
        notifier.client.chat_postMessage(channel=notifier.dm(user), text=text, blocks=body)


def announce_healed(notifier: Notifier, connection: Connection, _detail: str = "") -> None:
    text, body = healed_message(connection)
    notifier.client.chat_postMessage(channel=connection.announce_channel, text=text, blocks=body)


def tell_owner_left(notifier: Notifier, connection: Connection) -> list[str]:
    """The channel and the approvers hear the connection rests on someone who left."""
    text, body = owner_left_message(connection)
    channel = connection.announce_channel
    notifier.client.chat_postMessage(channel=channel, text=text, blocks=body)
    told = [channel]
    for approver in notifier.approvers.members():
        notifier.client.chat_postMessage(channel=notifier.dm(approver), text=text, blocks=body)
        told.append(approver)
    return told


def tell_sees_nothing(notifier: Notifier, connection: Connection, _detail: str) -> None:
    """The owner: Terraform can use the token, but through it sees no repository."""
    if connection.health_outcome != HealthOutcome.SEES_NOTHING:
        return  # it sees repositories again, or broke, before this went out
    who = code(connection.authorized_as) if connection.authorized_as else "the account"
    text = (
        f":warning: Terraform can use the token of *{escape(connection.organization)}*'s "
        f"connection (#{connection.id}), but {who} that authorized it sees no repository in "
        "Bitbucket, so workspaces cannot be linked to any. Press *Re-authorize* and authorize "
        "as an account with access to the team's repositories (admin, for webhooks)."
    )
    blocks = [
        section(text).to_dict(),
        ActionsBlock(block_id="sees_nothing", elements=[reauthorize_button(connection)]).to_dict(),
    ]
    notifier.client.chat_postMessage(
        channel=notifier.owner_dm(connection),
        text=f"The connection of {escape(connection.organization)} sees no repository",
        blocks=blocks,
    )


def sends(notifier: Notifier) -> dict[Owed, Send]:
    """What the health watch owes, for the courier."""
    return {
        Owed.BROKEN: partial(announce_broken, notifier),
        Owed.HEALED: partial(announce_healed, notifier),
        Owed.SEES_NOTHING: partial(tell_sees_nothing, notifier),
    }
