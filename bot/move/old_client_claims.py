"""Claiming the right to delete a move's old OAuth client: one press at a time, and
never a client that a connection still stands on. Each method is one transaction."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.connections.model import Connection
from bot.connections.move_tables import Move, MoveState
from bot.connections.states import SETTLED

# A press of Delete old client holds its claim this long if its process dies mid-call.
DELETE_CLAIM_SECONDS = 60.0


class OldClients:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def claim_old_client(self, move_id: int, user: str) -> str | None:
        """The right to delete a move's old OAuth client, for one press at a time; returns
        why not (in words for the one who pressed), or None when this call holds it. The
        same checks that hide the button run here, in the transaction that claims."""
        now = self._clock.now()
        with self._sessions.begin() as session:
            move = _locked(session, move_id)
            if move is None:
                return "That move no longer exists."
            if move.from_connection_id == move.to_connection_id:
                return (
                    f"Move #{move.id} relinked a re-authorized connection to its own new token: "
                    "its OAuth client is the live one, and stays."
                )
            if move.state != MoveState.DONE or not move.from_client_id:
                return f"Move #{move.id} is not done: the old client stays until it is."
            if move.old_client_deleted_by:
                return f"<@{move.old_client_deleted_by}> deleted the old client already."
            live = session.scalars(
                select(Connection.id).where(
                    Connection.oauth_client_id == move.from_client_id,
                    Connection.state.in_(list(SETTLED)),
                )
            ).first()
            if live is not None:
                return (
                    f"The OAuth client {move.from_client_id} is the client of connection #{live}, "
                    "which is still connected (or broken, to be repaired): it stays."
                )
            held = move.old_client_claimed_at
            if (
                move.old_client_claimed_by
                and held is not None
                and now - held < timedelta(seconds=DELETE_CLAIM_SECONDS)
            ):
                return f"<@{move.old_client_claimed_by}> is deleting the old client right now."
            move.old_client_claimed_by = user
            move.old_client_claimed_at = now
            return None

    def release_old_client(self, move_id: int, user: str) -> None:
        """The delete was refused or failed: the next press may try again."""
        with self._sessions.begin() as session:
            session.execute(
                update(Move)
                .where(Move.id == move_id, Move.old_client_claimed_by == user)
                .values(old_client_claimed_by=None, old_client_claimed_at=None)
            )


def _locked(session: Session, move_id: int) -> Move | None:
    query = select(Move).where(Move.id == move_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).first()
