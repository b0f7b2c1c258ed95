"""Sending a move's messages: the channel's one message (counts only), and a card for each
person who decides it (approvers, or the new connection's owner where there are none) and
for the owner, each updated in place as the move goes on. A card Slack took but whose answer
was lost is found in the DM (message metadata) and adopted, never posted twice."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.connections.move_tables import MOVE_OVER, ItemStatus, Move, MoveState
from bot.connections.outbox import Owed
from bot.connections.service import ConnectionService
from bot.move.blocks import (
    SHOWN,
    MoveView,
    channel_message,
    earlier_card,
    move_card,
    reminder_line,
)
from bot.move.cards import MoveCards
from bot.move.store import Moves
from bot.slack.access import Access
from bot.slack.courier import Send
from bot.slack.dm_cards import card_metadata
from bot.slack.notify import Notifier

log = logging.getLogger(__name__)


class MoveMessages:
    def __init__(
        self,
        notifier: Notifier,
        moves: Moves,
        service: ConnectionService,
        cards: MoveCards,
        access: Access,
    ) -> None:
        self.notifier = notifier
        self.access = access
        self.client = notifier.client
        self.moves = moves
        self.service = service
        self.cards = cards
        self._locks: defaultdict[int, threading.Lock] = defaultdict(threading.Lock)

    def deciders(self, move: Move) -> list[str]:
        """Who decides a move: whoever Access says may (the rule the buttons are checked by),
        among the approvers, or the new connection's owner where none are set."""
        owner = self.service.get(move.to_connection_id).owner_id
        people = self.access.approvers.members() if self.access.needs_approval else [owner]
        return [
            user
            for user in people
            if self.access.may_decide_move(user, asked_by=move.asked_by, new_owner=owner)
        ]

    def show(self, move_id: int, *, sweep: bool = False) -> None:
        """Post or update the channel's message and every card; with `sweep` (what the
        outbox sends after a decision), cards Slack took whose answer was lost lose their
        buttons too. Raises what Slack raised (the outbox tries again)."""
        with self._locks[move_id]:
            move = self.moves.get(move_id)
            if move is None:
                return
            view = self._view(move)
            self._show_in_channel(view)
            self._show_cards(view)
            if sweep and move.state != MoveState.PLANNED:
                self._strip_lost_cards(move)

    def progress(self, move_id: int) -> None:
        """The bar, while the move runs; never raises (the next update, or the report,
        carries what this one would have said)."""
        try:
            self.show(move_id)
        except (SlackApiError, OSError) as error:
            log.info("could not update a move's progress", extra={"error": type(error).__name__})

    def remind(self, move: Move, *, number: int, expires: datetime) -> list[str]:
        """Each decider gets a fresh card headed by the reminder; the card before it loses
        its buttons, so a decision (which updates the cards) leaves no live button."""
        view = self._view(move)
        told = []
        line = reminder_line(move, number=number, expires=expires)
        for user in self.deciders(move):
            text, body = move_card(view, decides=True, reminder=line)
            answer = self.client.chat_postMessage(
                channel=self.notifier.dm(user),
                text=f"Reminder: {text}",
                blocks=body,
                metadata=card_metadata(move.to_connection_id, move=move.id),
            )
            before = self.cards.move(move.id, user, str(answer["channel"]), str(answer["ts"]))
            if before is not None:
                self._update(move, before, *earlier_card(move))
            told.append(user)
        return told

    def _view(self, move: Move) -> MoveView:
        planned = move.state == MoveState.PLANNED
        return MoveView(
            move=move,
            tally=self.moves.tally(move.id),
            items=self.moves.items(move.id, ItemStatus.PENDING, limit=SHOWN) if planned else [],
            failures=self.moves.items(move.id, ItemStatus.FAILED, limit=SHOWN),
            left_out=self.moves.items(move.id, ItemStatus.LEFT_OUT, limit=SHOWN),
        )

    def _show_in_channel(self, view: MoveView) -> None:
        move = view.move
        text, body = channel_message(view)
        if move.message_channel and move.message_ts:
            self.client.chat_update(
                channel=move.message_channel, ts=move.message_ts, text=text, blocks=body
            )
            return
        connection = self.service.get(move.to_connection_id)
        answer = self.client.chat_postMessage(
            channel=connection.announce_channel, text=text, blocks=body
        )
        self.moves.placed(move.id, str(answer["channel"]), str(answer["ts"]))

    def _recipients(self, move: Move) -> list[str]:
        owner = self.service.get(move.to_connection_id).owner_id
        if move.asked_by == "bot":
            return [owner]  # a re-authorization's relink: nobody is asked
        return sorted({owner, *self.deciders(move)})

    def _show_cards(self, view: MoveView) -> None:
        move = view.move
        deciders = set(self.deciders(move))
        carded = {card.user_id: card for card in self.cards.of(move.id)}
        for user, card in carded.items():
            self._update(move, (card.channel, card.ts), *move_card(view, decides=user in deciders))
        if move.state in MOVE_OVER:
            return  # cards go out while a move waits or runs; later ones only update
        for user in self._recipients(move):
            if user in carded:
                continue
            text, body = move_card(view, decides=user in deciders)
            dm = self.notifier.dm(user)
            taken = self.notifier.dm_cards.find(dm, move.to_connection_id, move=move.id)
            if taken:
                # Slack took a card whose answer was lost: adopt it, never post a second.
                self.client.chat_update(channel=dm, ts=taken[0], text=text, blocks=body)
                self.cards.add(move.id, user, dm, taken[0])
                continue
            answer = self.client.chat_postMessage(
                channel=dm,
                text=text,
                blocks=body,
                metadata=card_metadata(move.to_connection_id, move=move.id),
            )
            self.cards.add(move.id, user, str(answer["channel"]), str(answer["ts"]))

    def _strip_lost_cards(self, move: Move) -> None:
        recorded = {(card.channel, card.ts) for card in self.cards.of(move.id)}
        for user in self._recipients(move):
            dm = self.notifier.dm(user)
            for ts in self.notifier.dm_cards.find(dm, move.to_connection_id, move=move.id):
                if (dm, ts) not in recorded:
                    self._update(move, (dm, ts), *earlier_card(move))

    def _update(
        self, move: Move, where: tuple[str, str], text: str, body: list[dict[str, Any]]
    ) -> None:
        channel, ts = where
        try:
            self.client.chat_update(channel=channel, ts=ts, text=text, blocks=body)
        except SlackApiError as error:
            log.warning(
                "could not update a move's card",
                extra={"connection": move.to_connection_id, "error": error.response.get("error")},
            )


def sends(messages: MoveMessages) -> dict[Owed, Send]:
    """What a move owes, for the courier (the detail is the move's id)."""
    return {Owed.MOVE: lambda _, detail: messages.show(int(detail or 0), sweep=True)}
