"""Finding the approval cards Slack took but whose answer was lost: every card carries Slack
message metadata naming its connection, and the bot may read its own DMs (`im:history`; it
asks for no channel history). Read before posting a card again, and when a decision must
take the buttons off every card."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

CARD_EVENT = "connect_bitbucket_card"
# How far back in a DM to look: cards, reminders and notes of a few weeks.
LOOK_BACK = 100


def card_metadata(connection_id: int, move: int | None = None) -> dict[str, Any]:
    """What a card carries: its connection (and its move, for a move's card)."""
    payload: dict[str, Any] = {"connection": connection_id}
    if move is not None:
        payload["move"] = move
    return {"event_type": CARD_EVENT, "event_payload": payload}


class DmCards:
    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._warned = False

    def find(self, dm: str, connection_id: int, move: int | None = None) -> list[str]:
        """The timestamps of this connection's cards (or of one of its moves) in the bot's
        DM, newest first; empty when there are none or the bot may not read its DMs (an app
        from an older manifest without im:history: then a lost answer can still mean a
        second card)."""
        try:
            answer = self.client.conversations_history(
                channel=dm, limit=LOOK_BACK, include_all_metadata=True
            )
        except SlackApiError as error:
            if not self._warned:
                self._warned = True
                said = error.response.get("error")
                # Only a missing scope is mended by asking for it; anything else is said as is.
                fix = "; add the im:history scope" if said == "missing_scope" else f" ({said})"
                log.warning(
                    f"cannot read the bot's DMs to find cards Slack took{fix}",
                    extra={"error": said},
                )
            return []
        found = []
        for message in answer.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if (
                metadata.get("event_type") == CARD_EVENT
                and payload.get("connection") == connection_id
                and payload.get("move") == move
            ):
                found.append(str(message.get("ts")))
        return found
