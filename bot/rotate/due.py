"""ROTATE_EVERY: an owner hears when the consumer's key and secret are due for rotation:
once ahead of the date, once on it, whichever replica gets there first."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.clock import Clock
from bot.connections.model import Connection
from bot.connections.notices import Notices
from bot.rotate import blocks as rotate_blocks
from bot.slack.notify import Notifier

log = logging.getLogger(__name__)

AHEAD = "rotation_ahead"
DUE = "rotation_due"
# How far ahead the first reminder comes: a tenth of the interval, at most a week.
AHEAD_MAX = timedelta(days=7)


class RotationDue:
    def __init__(self, every: float, notices: Notices, notifier: Notifier, clock: Clock) -> None:
        self.every = timedelta(seconds=every)
        self.notices = notices
        self.notifier = notifier
        self.clock = clock

    def check(self, connection: Connection) -> None:
        """Remind the owner if a rotation is due (or nearly); at most once per kind and date."""
        since = connection.credentials_set_at
        if since is None or connection.client_gone:
            return
        due = since + self.every
        ahead = due - min(AHEAD_MAX, self.every / 10)
        now = self.clock.now()
        if now < ahead:
            return
        kind = DUE if now >= due else AHEAD
        if not self.notices.claim(connection.id, kind, due, [connection.owner_id]):
            return
        text, body = rotate_blocks.rotation_due(connection, overdue=kind == DUE)
        try:
            self.notifier.client.chat_postMessage(
                channel=self.notifier.owner_dm(connection), text=text, blocks=body
            )
        except Exception:
            self.notices.release(connection.id, kind, due)
            raise
        self.notifier.service.record(
            connection.id, "bot", "reminded the owner: the key and secret are due for rotation"
        )
        log.info("reminded an owner to rotate", extra={"connection": connection.id})
