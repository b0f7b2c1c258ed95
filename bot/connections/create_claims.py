"""Who may create a connection's OAuth client right now: one claim per connection, naming
the running bot that holds it, so a double submission never makes two clients and a dead
bot's claim is freed (part of ConnectionService)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select, update

from bot.connections.model import Connection
from bot.connections.states import State
from bot.connections.store import Store


class CreateClaims(Store):
    """The create claim's columns on connections; each method one transaction."""

    def claim_client_creation(
        self, connection_id: int, worker: str = "", *, stale_after: float = 300
    ) -> bool:
        """Take the right to create this connection's OAuth client; False if another has it.

        The claim names the running bot that holds it: a restart on the same host frees a
        dead run's claims at once; a claim older than `stale_after` seconds (a bot that died
        on another host) is taken over.
        """
        now = self._clock.now()
        with self._transaction() as session:
            result = session.execute(
                update(Connection)
                .where(Connection.id == connection_id)
                .where(Connection.state == State.AWAITING_CREDENTIALS)
                .where(
                    or_(
                        Connection.client_create_started_at.is_(None),
                        Connection.client_create_started_at < now - timedelta(seconds=stale_after),
                    )
                )
                .values(client_create_started_at=now, client_create_owner=worker or None)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def release_client_creation(self, connection_id: int) -> None:
        """Give up the claim after a failed attempt, so the owner can try again."""
        with self._transaction() as session:
            session.execute(
                update(Connection)
                .where(Connection.id == connection_id)
                .values(client_create_started_at=None, client_create_owner=None)
            )

    def create_claim_owners(self) -> list[str]:
        """Running bots that hold create claims right now."""
        with self._transaction() as session:
            query = select(Connection.client_create_owner).where(
                Connection.client_create_owner.is_not(None)
            )
            return sorted({str(owner) for owner in session.scalars(query.distinct())})

    def release_create_claims(self, owners: list[str]) -> list[Connection]:
        """Free the create claims of bots known to be gone; returns those connections."""
        if not owners:
            return []
        with self._transaction() as session:
            freed = list(
                session.scalars(
                    select(Connection).where(Connection.client_create_owner.in_(owners))
                )
            )
            for connection in freed:
                connection.client_create_started_at = None
                connection.client_create_owner = None
            return freed
