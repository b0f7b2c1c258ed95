"""Recognising a Slack delivery seen before (Events API retries, replays, double clicks).

The keys live in the database, so a repeat is recognised whichever replica it lands on.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.connections.model import SlackDelivery


def delivery_key(body: dict[str, Any]) -> str | None:
    """A key that is the same for every delivery of one user action, and differs otherwise."""
    kind = body.get("type")
    if kind == "view_submission":
        view = body.get("view") or {}
        return f"view:{view.get('id')}:{view.get('hash')}"
    if kind == "block_actions":
        action = (body.get("actions") or [{}])[0]
        user = (body.get("user") or {}).get("id")
        return f"action:{action.get('action_id')}:{action.get('action_ts')}:{user}"
    if kind == "event_callback":
        return f"event:{body.get('event_id')}"
    if body.get("command"):
        return f"command:{body.get('trigger_id')}"
    return None


class Deliveries:
    """The keys of deliveries already handled."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def first_time(self, body: dict[str, Any]) -> bool:
        """True for the first delivery of a request; False for a repeat of one already handled."""
        key = delivery_key(body)
        if key is None:
            return True
        try:
            with self._sessions.begin() as session:
                session.add(SlackDelivery(key=key[:255], received_at=self._clock.now()))
            return True
        except IntegrityError:
            return False

    def forget(self, older_than: timedelta) -> int:
        """Drop keys older than Slack could ever retry; returns how many."""
        with self._sessions.begin() as session:
            result = session.execute(
                delete(SlackDelivery).where(
                    SlackDelivery.received_at < self._clock.now() - older_than
                )
            )
            return int(result.rowcount)  # type: ignore[attr-defined]
