"""What a stalled connection owes Slack: the owner's reminder, the escalation to the channel
and the approvers, and the note that it ended (cancelled or expired)."""

from __future__ import annotations

from datetime import datetime

from bot.connections.model import Connection
from bot.connections.outbox import Owed
from bot.remind.blocks import ended_message, escalation_message, reminder_message
from bot.slack.audience import Audience
from bot.slack.courier import Send
from bot.slack.notify import Notifier


def remind(
    notifier: Notifier, connection: Connection, *, number: int, expires: datetime
) -> list[str]:
    """DM the owner a reminder; returns where it went."""
    text, body = reminder_message(connection, number=number, expires=expires)
    notifier.client.chat_postMessage(channel=notifier.owner_dm(connection), text=text, blocks=body)
    return [connection.owner_id]


def escalate(
    notifier: Notifier, connection: Connection, *, reminders: int, approvers: Audience
) -> list[str]:
    """Tell the connection's channel (mentioning the approvers) and DM each approver,
    members of approver groups included; returns who was told."""
    text, body = escalation_message(
        connection,
        reminders=reminders,
        approvers=tuple(sorted(approvers.users)) + approvers.groups,
    )
    channel = connection.announce_channel
    told = [channel]
    notifier.client.chat_postMessage(channel=channel, text=text, blocks=body)
    for approver in approvers.members():
        notifier.client.chat_postMessage(channel=notifier.dm(approver), text=text, blocks=body)
        told.append(approver)
    return told


def tell_ended(notifier: Notifier, connection: Connection, summary: str) -> None:
    text, body = ended_message(connection, summary)
    notifier.client.chat_postMessage(channel=notifier.owner_dm(connection), text=text, blocks=body)


def sends(notifier: Notifier) -> dict[Owed, Send]:
    """What a stalled or ended connection owes, for the courier."""
    return {Owed.ENDED: lambda connection, summary: tell_ended(notifier, connection, summary)}
