"""Posting a move's one message, then updating it in place as the move goes on."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.connections.move_tables import ItemStatus, MoveState
from bot.connections.moves import Moves
from bot.connections.service import ConnectionService
from bot.slack.blocks.move import SHOWN, move_message

log = logging.getLogger(__name__)


class MoveMessages:
    def __init__(self, client: WebClient, moves: Moves, service: ConnectionService) -> None:
        self.client = client
        self.moves = moves
        self.service = service
        self._locks: defaultdict[int, threading.Lock] = defaultdict(threading.Lock)

    def show(self, move_id: int) -> None:
        """Post the move's message in the new connection's channel, or update it in place.
        Raises what Slack raised (the outbox tries again)."""
        with self._locks[move_id]:
            move = self.moves.get(move_id)
            if move is None:
                return
            tally = self.moves.tally(move_id)
            items = (
                self.moves.items(move_id, limit=SHOWN) if move.state == MoveState.PLANNED else []
            )
            failures = self.moves.items(move_id, ItemStatus.FAILED, limit=SHOWN)
            text, body = move_message(move, tally, items=items, failures=failures)
            if move.message_channel and move.message_ts:
                self.client.chat_update(
                    channel=move.message_channel, ts=move.message_ts, text=text, blocks=body
                )
                return
            connection = self.service.get(move.to_connection_id)
            answer = self.client.chat_postMessage(
                channel=connection.announce_channel, text=text, blocks=body
            )
            self.moves.placed(move_id, str(answer["channel"]), str(answer["ts"]))

    def progress(self, move_id: int) -> None:
        """The bar, while the move runs; never raises (the next update, or the report,
        carries what this one would have said)."""
        try:
            self.show(move_id)
        except (SlackApiError, OSError) as error:
            log.info("could not update a move's progress", extra={"error": type(error).__name__})
