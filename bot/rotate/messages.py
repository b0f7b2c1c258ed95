"""Sending what a rotation owes Slack: the approvers' cards (sent once each, updated in place
after the decision, earlier requests' cards stripped of their buttons) and the decision."""

from __future__ import annotations

import logging
from functools import partial

from slack_sdk.errors import SlackApiError

from bot.connections.model import Connection
from bot.connections.outbox import Owed
from bot.connections.upkeep import RotationStage
from bot.rotate import blocks as rotate_blocks
from bot.rotate.store import Rotations
from bot.slack.courier import Send
from bot.slack.notify import Notifier

log = logging.getLogger(__name__)


def send_rotation_cards(notifier: Notifier, rotations: Rotations, connection: Connection) -> None:
    """Every approver has this request's card, as it now stands; no older card keeps live
    buttons."""
    service = rotations
    for card in service.stale_rotation_cards(connection):
        _update(notifier, connection, card.approver_id, card.channel, card.ts, stale=True)
        service.forget_rotation_card(card.id)
    carded = {card.approver_id: card for card in service.rotation_cards(connection)}
    for card in carded.values():
        _update(notifier, connection, card.approver_id, card.channel, card.ts)
    if connection.rotation_stage != RotationStage.AWAITING_APPROVAL:
        return
    for approver in notifier.approvers.members():
        if approver in carded:
            continue
        text, body = rotate_blocks.rotation_card(connection, approver)
        answer = notifier.client.chat_postMessage(
            channel=notifier.dm(approver), text=text, blocks=body
        )
        service.add_rotation_card(connection, approver, str(answer["channel"]), str(answer["ts"]))


def _update(
    notifier: Notifier,
    connection: Connection,
    approver: str,
    channel: str,
    ts: str,
    *,
    stale: bool = False,
) -> None:
    text, body = rotate_blocks.rotation_card(connection, approver)
    if stale:
        text, body = (
            "An earlier request to rotate",
            [rotate_blocks.section(rotate_blocks.replaced()).to_dict()],
        )
    try:
        notifier.client.chat_update(channel=channel, ts=ts, text=text, blocks=body)
    except SlackApiError as error:
        log.warning(
            "could not update a rotation card",
            extra={"connection": connection.id, "error": error.response.get("error")},
        )


def tell_rotation_decision(notifier: Notifier, connection: Connection, outcome: str) -> None:
    asked = connection.rotation_by or connection.owner_id
    text, body = rotate_blocks.rotation_decision(connection, outcome)
    notifier.client.chat_postMessage(channel=notifier.dm(asked), text=text, blocks=body)


def sends(notifier: Notifier, rotations: Rotations) -> dict[Owed, Send]:
    """What a rotation owes, for the courier."""
    return {
        Owed.ROTATION_CARDS: lambda c, _: send_rotation_cards(notifier, rotations, c),
        Owed.ROTATION_DECISION: partial(tell_rotation_decision, notifier),
    }
