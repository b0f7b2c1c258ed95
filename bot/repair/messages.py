"""Sending what a re-authorization owes Slack: the steps to whoever was asked, the channel's
"repaired", and the note when the bot stopped waiting."""

from __future__ import annotations

from functools import partial

from bot.connections.model import Connection
from bot.connections.outbox import Owed
from bot.repair import blocks as repair_blocks
from bot.slack.courier import Send
from bot.slack.notify import Notifier
from bot.slack.text import escape


def send_repair_steps(notifier: Notifier, connection: Connection) -> None:
    """Whoever was asked to re-authorize gets the steps and the buttons in a DM."""
    if not connection.repairing:
        return  # repaired or stopped before this went out
    text, body = repair_blocks.repair_steps(
        connection,
        providers=notifier.pages.vcs_providers(connection.organization),
        authorize=notifier.pages.authorize_link(connection),
        link=notifier.pages.application_link(connection) if connection.data_center else None,
    )
    notifier.client.chat_postMessage(
        channel=notifier.dm(connection.repair_by or connection.owner_id), text=text, blocks=body
    )


def announce_repaired(notifier: Notifier, connection: Connection, old_token: str) -> None:
    text, body = repair_blocks.repaired_message(connection, old_token)
    notifier.client.chat_postMessage(channel=connection.announce_channel, text=text, blocks=body)


def tell_repair_stopped(notifier: Notifier, connection: Connection, detail: str) -> None:
    asked, _, why = detail.partition("\n")
    text, body = repair_blocks.repair_stopped(connection, why)
    notifier.client.chat_postMessage(
        channel=notifier.dm(asked or connection.owner_id), text=text, blocks=body
    )


def tell_owner_changed(notifier: Notifier, connection: Connection, previous: str) -> None:
    """The old owner hears who looks after the connection now, and why."""
    text = (
        f"Connection #{connection.id} ({escape(connection.organization)}) is now looked after "
        f"by <@{connection.owner_id}>: an approver asked them to re-authorize it, and they did. "
        "If that is wrong, ask an approver."
    )
    notifier.client.chat_postMessage(channel=notifier.dm(previous), text=text)


def sends(notifier: Notifier) -> dict[Owed, Send]:
    """What a re-authorization owes, for the courier."""
    return {
        Owed.REPAIR_STEPS: lambda connection, _: send_repair_steps(notifier, connection),
        Owed.REPAIRED: partial(announce_repaired, notifier),
        Owed.REPAIR_STOPPED: partial(tell_repair_stopped, notifier),
        Owed.OWNER_CHANGED: partial(tell_owner_changed, notifier),
    }
