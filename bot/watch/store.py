"""What the health watch keeps of each check that asked Terraform to use the token; each
method one transaction, and none of them counts as a change for the sweep (updated_at
stays), since a check is not progress."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from bot.connections.model import Connection, HealthOutcome
from bot.connections.outbox import Owed, owe
from bot.connections.store import Store


class TokenChecks(Store):
    def worked(self, connection_id: int, outcome: HealthOutcome, repos: int | None) -> None:
        """Terraform used the token (and read `repos` repositories, or none: the owner is
        told once, when it starts seeing nothing)."""
        now = self._clock.now()
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            if outcome == HealthOutcome.SEES_NOTHING and connection.health_outcome != outcome:
                owe(session, connection_id, [Owed.SEES_NOTHING], now)
            connection.health_outcome = outcome.value
            connection.repos_seen = repos
            connection.health_refusals = 0
            connection.health_refused_at = None
            connection.health_checked_at = now
            connection.health_note = None
            connection.client_gone = False

    def could_not_check(self, connection_id: int) -> None:
        """An outage (timeout, 429, a 5xx that does not name the provider): nothing is said."""
        self._set(connection_id, health_outcome=HealthOutcome.UNREACHABLE.value)

    def existence_only(self, connection_id: int) -> None:
        """This Terraform cannot test tokens: only the token's existence was checked."""
        self._set(connection_id, health_outcome=HealthOutcome.EXISTENCE_ONLY.value)

    def refused(self, connection_id: int, why: str, *, spacing: float) -> int:
        """Bitbucket refused the token; returns the refusals in a row. One that comes sooner
        than `spacing` seconds after the last is the same refusal, not a second. Each is in
        the audit trail; nothing else says one alone."""
        now = self._clock.now()
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            last = connection.health_refused_at
            if last is None or now - last >= timedelta(seconds=spacing):
                connection.health_refusals = (connection.health_refusals or 0) + 1
                connection.health_refused_at = now
                self._record(
                    session,
                    connection,
                    connection.state,
                    connection.state,
                    "bot",
                    now,
                    note=f"Terraform could not use the token at Bitbucket ({why}); refusal "
                    f"{connection.health_refusals} in a row",
                )
            connection.health_outcome = HealthOutcome.REFUSED.value
            connection.health_checked_at = now
            return connection.health_refusals

    def _set(self, connection_id: int, **values: object) -> None:
        with self._transaction() as session:
            session.execute(
                update(Connection)
                .where(Connection.id == connection_id)
                .values(health_checked_at=self._clock.now(), **values)
            )
