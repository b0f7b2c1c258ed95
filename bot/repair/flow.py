"""Watching a connection being re-authorized in place: the same OAuth client gets a new
token (a new id, or the same id made later), and the connection is repaired with every
workspace still linked."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.clients.tfe import OAuthToken, TFEClient, TFEError, TFEErrorKind
from bot.clients.token_answers import Answer, classify
from bot.clock import Clock
from bot.connections import schedule
from bot.connections.model import Connection, HealthOutcome
from bot.connections.service import ConnectionService
from bot.move.flow import Relinks
from bot.repair.store import Repairs

log = logging.getLogger(__name__)


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def is_new(token: OAuthToken, connection: Connection) -> bool:
    """Issued since the repair started: another id than the token there then, or the same
    id made later (a TFE that re-issues in place)."""
    if token.id != connection.repair_from_token:
        return True
    made, before = _when(token.created_at), _when(connection.repair_from_created)
    return made is not None and before is not None and made > before


class RepairWatch:
    def __init__(
        self,
        service: ConnectionService,
        repairs: Repairs,
        tfe: TFEClient,
        clock: Clock,
        *,
        poll_every: float,
        give_up_after: float,
        relinks: Relinks | None = None,
    ) -> None:
        self.relinks = relinks
        self.service = service
        self.repairs = repairs
        self.tfe = tfe
        self.clock = clock
        self.poll_every = poll_every
        self.give_up_after = timedelta(seconds=give_up_after)

    def check(self, connection_id: int) -> tuple[Connection, bool]:
        """Look for the new token; returns the connection and whether this call repaired it
        or stopped the watch (so exactly one replica tells Slack)."""
        connection = self.service.get(connection_id)
        started = connection.repair_started_at
        if started is None or not connection.oauth_client_id:
            return connection, False
        try:
            tokens = self.tfe.list_oauth_tokens(connection.oauth_client_id)
        except TFEError as error:
            if error.kind != TFEErrorKind.NOT_FOUND:
                raise
            stopped = self.repairs.stop_repair(
                connection_id,
                actor="bot",
                why=f"the OAuth client {connection.oauth_client_id} is gone from Terraform, so "
                "it cannot be re-authorized; press Reconnect to set up a new one",
                client_gone=True,
            )
            return stopped, True
        fresh = [t for t in tokens if is_new(t, connection)]
        if connection.health_outcome == HealthOutcome.REFUSED:
            # Broken because Bitbucket refused the token, which is still listed: only a
            # token Terraform can use repairs it, not the refused one seen again.
            fresh = [t for t in fresh if self._works(t.id)]
        if not fresh:
            if self.clock.now() - started >= self.give_up_after:
                return self.repairs.stop_repair(
                    connection_id,
                    actor="bot",
                    why="nobody re-authorized it in time; press Re-authorize to try again",
                ), True
            return connection, False
        token = max(fresh, key=lambda t: _when(t.created_at) or started)
        repaired, changed = self.repairs.finish_repair(
            connection_id,
            started_at=started,
            token_id=token.id,
            token_created=token.created_at,
            authorized_as=token.service_provider_user,
        )
        if changed:
            log.info("connection re-authorized in place", extra={"connection": connection_id})
            if self.relinks is not None:
                self.relinks.after_new_token(
                    repaired, connection.repair_from_token or connection.oauth_token_id
                )
        return repaired, changed

    def _works(self, token_id: str) -> bool:
        """Can Terraform use this token at Bitbucket? (Where this Terraform cannot test
        tokens, a new one is taken on trust, as before; an outage is tried again later.)"""
        try:
            self.tfe.authorized_repos(token_id)
        except TFEError as error:
            answer = classify(error)
            if answer == Answer.OUTAGE:
                raise
            return answer == Answer.NOT_THERE
        return True

    def next_check(self, connection: Connection) -> datetime | None:
        """Often right after the ask, slower later, as for a first authorization."""
        if connection.repair_started_at is None:
            return None
        now = self.clock.now()
        return now + timedelta(
            seconds=schedule.token_check_interval(
                connection.repair_started_at, now, self.poll_every
            )
        )
