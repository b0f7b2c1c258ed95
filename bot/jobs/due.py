"""The sweep: claims connections whose next_due_at has come and does what each needs."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import datetime, timedelta

from bot.clients.tfe import TFEError
from bot.clock import Clock
from bot.connections.service import ConnectionService
from bot.connections.states import State, is_open
from bot.flows.connect import ConnectFlow
from bot.slack.notify import Notifier

log = logging.getLogger(__name__)

# How long a claim holds; a replica that dies mid-claim loses it after this long.
LEASE_SECONDS = 60.0
RETRY_AFTER_FAILURE = 30.0


def worker_name() -> str:
    """Unique per process, readable in the database: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class DueWork:
    """One sweep claims up to `batch` due connections and handles each."""

    def __init__(
        self,
        service: ConnectionService,
        flow: ConnectFlow,
        notifier: Notifier,
        clock: Clock,
        *,
        worker: str | None = None,
        batch: int = 50,
    ) -> None:
        self.service = service
        self.flow = flow
        self.notifier = notifier
        self.clock = clock
        self.worker = worker or worker_name()
        self.batch = batch

    def sweep(self) -> int:
        """Handle what is due now; returns how many connections were handled."""
        try:
            claimed = self.service.claim_due(
                self.worker, limit=self.batch, lease_seconds=LEASE_SECONDS
            )
        except Exception:
            log.exception("claiming due work failed", extra={"worker": self.worker})
            return 0
        for connection_id in claimed:
            self.handle(connection_id)
        return len(claimed)

    def handle(self, connection_id: int) -> None:
        next_due: datetime | None = self.clock.now() + timedelta(seconds=RETRY_AFTER_FAILURE)
        try:
            connection = self.service.get(connection_id)
            if connection.progress_ts is None and is_open(connection.current_state):
                # Posting it failed when the connection started (Slack was down): try again.
                self.notifier.refresh_progress(connection_id)
            connection, changed = self.flow.check_token(connection_id)
            if changed:
                self.notifier.refresh_progress(connection_id)
                if connection.current_state == State.CONNECTED:
                    self.notifier.announce_connected(connection)
            elif self.flow.needs_authorize_hint(connection) and (
                self.service.mark_authorize_hint_sent(connection_id)
            ):
                self.notifier.send_authorize_hint(connection)
            next_due = self.flow.next_token_check(connection)
        except TFEError as error:
            log.warning(
                "checking for the token failed; will try again",
                extra={"connection": connection_id, "status": error.status},
            )
        except Exception:
            log.exception("due work failed", extra={"connection": connection_id})
        finally:
            self.service.finish_due(connection_id, self.worker, next_due_at=next_due)
