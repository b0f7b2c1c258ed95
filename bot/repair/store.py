"""Re-authorizing a connection in place (day two): someone is asked to authorize the same
OAuth client again, and the bot watches it for the new token.

Nothing about the owner changes until the new token is there: until then the connection
rests on what it rested on before, and the repair can be asked of someone else, or stopped.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.connections.model import AccountKind, Connection
from bot.connections.outbox import Owed, owe
from bot.connections.states import SETTLED, State
from bot.connections.store import Store
from bot.connections.upkeep import RepairReason, check_has_client
from bot.connections.wakeups import due_now


def reason_for(connection: Connection, *, owner_left: bool = False) -> RepairReason:
    """Why a connection would be re-authorized now, as best the bot knows."""
    if connection.state == State.BROKEN:
        return RepairReason.TOKEN_LOST
    if owner_left:
        return RepairReason.OWNER_LEFT
    if connection.wrong_account:
        return RepairReason.WRONG_ACCOUNT
    return RepairReason.ASKED


class Repairs(Store):
    """The repair columns of connections; each method one transaction."""

    def start_repair(
        self,
        connection_id: int,
        *,
        by: str,
        actor: str,
        reason: RepairReason,
        username: str | None = None,
    ) -> Connection:
        """Ask `by` to re-authorize the connection's client (as Bitbucket user `username`,
        for a service account) and watch for the new token from now. Asking again (the same
        person, or another) starts the watch afresh and sends the steps again."""
        now = self._clock.now()
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            self.begin_in(
                session, connection, by=by, actor=actor, reason=reason, username=username, now=now
            )
            return connection

    def begin_in(
        self,
        session: Session,
        connection: Connection,
        *,
        by: str,
        actor: str,
        reason: RepairReason,
        username: str | None,
        now: datetime,
    ) -> None:
        """Start the repair inside the caller's transaction (a rotation ends in one)."""
        check_has_client(connection, "re-authorize", "re-authorized")
        if not connection.repairing:
            # The token there now; a new id, or the same id made later, ends the repair.
            connection.repair_from_token = (
                connection.oauth_token_id if connection.state == State.CONNECTED else None
            )
            connection.repair_from_created = connection.oauth_token_created
        connection.repair_by = by
        asked = (connection.repair_asked or "").split()
        connection.repair_asked = " ".join([*[a for a in asked if a != by], by])
        connection.repair_username = username or None
        connection.repair_reason = reason.value
        connection.repair_started_at = now
        connection.next_due_at = now
        due_now(session)
        connection.updated_at = now
        as_whom = f" as Bitbucket user {username}" if username else ""
        self._record(
            session,
            connection,
            connection.state,
            connection.state,
            actor,
            now,
            note=f"asked <@{by}> to re-authorize{as_whom} ({reason.words})",
        )
        owe(session, connection.id, [Owed.REPAIR_STEPS, Owed.HOME], now)

    def finish_repair(
        self,
        connection_id: int,
        *,
        started_at: datetime,
        token_id: str,
        token_created: str | None,
        authorized_as: str | None,
    ) -> tuple[Connection, bool]:
        """The new token is there: record it and who authorized, hand the connection to
        whoever re-authorized it, and tell the channel. Only the repair that started at
        `started_at` is finished (so two replicas finish it once); returns whether this
        call did."""
        now = self._clock.now()
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            if connection.repair_started_at != started_at or connection.state not in SETTLED:
                return connection, False
            old_token = connection.repair_from_token
            # The token is whoever opened a link of the steps they were sent (an approver
            # named them: an audited decision); nobody did, the owner keeps it.
            by = connection.repair_clicked_by or connection.owner_id
            previous = connection.owner_id
            if by != previous:
                connection.owner_id = by
                connection.owner_dm_channel = None
                connection.owner_tz = None
                self._record(
                    session,
                    connection,
                    connection.state,
                    connection.state,
                    by,
                    now,
                    note=f"ownership passed from <@{previous}> to <@{by}>, who re-authorized it "
                    "as asked",
                )
                owe(session, connection.id, [(Owed.OWNER_CHANGED, previous)], now)
            if connection.repair_username:
                connection.account_kind = AccountKind.SERVICE_ACCOUNT
                connection.bitbucket_username = connection.repair_username
            elif connection.repair_reason == RepairReason.OWNER_LEFT:
                connection.account_kind = AccountKind.PERSONAL
                connection.bitbucket_username = None
            connection.oauth_token_id = token_id
            connection.oauth_token_created = token_created
            connection.authorized_as = authorized_as
            reason = connection.repair_reason or RepairReason.ASKED.value
            self._clear(connection)
            connection.health_note = None
            connection.health_checked_at = now
            note = (
                f"re-authorized by <@{by}> as {authorized_as or 'an unknown Bitbucket user'}"
                f" ({RepairReason(reason).words}); token {token_id}"
                + (f" replaces {old_token}" if old_token and old_token != token_id else "")
            )
            if connection.state == State.BROKEN:
                self._move(session, connection, State.CONNECTED, by, now, note=note)
                connection.status_note = None
            else:
                connection.updated_at = now
                connection.next_due_at = now
                due_now(session)
                self._record(
                    session, connection, connection.state, connection.state, by, now, note=note
                )
                owe(session, connection.id, [Owed.PROGRESS, Owed.HOME], now)
            owe(session, connection.id, [(Owed.REPAIRED, old_token or "")], now)
            if connection.wrong_account:
                owe(session, connection.id, [Owed.WRONG_ACCOUNT], now)
            return connection, True

    def stop_repair(
        self, connection_id: int, *, actor: str, why: str, client_gone: bool = False
    ) -> Connection:
        """Stop watching for a new token (the client is gone, or it was not re-authorized in
        time); whoever was asked hears why."""
        now = self._clock.now()
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            if not connection.repairing:
                return connection
            asked = connection.repair_by or connection.owner_id
            self._clear(connection)
            connection.client_gone = connection.client_gone or client_gone
            connection.next_due_at = now
            due_now(session)
            connection.updated_at = now
            self._record(
                session,
                connection,
                connection.state,
                connection.state,
                actor,
                now,
                note=f"stopped waiting for a re-authorization: {why}",
            )
            owe(session, connection.id, [(Owed.REPAIR_STOPPED, f"{asked}\n{why}"), Owed.HOME], now)
            return connection

    def repair_link_opened(self, connection_id: int, user: str) -> bool:
        """Someone asked during this repair opened a link of the steps: watch closely from
        now on, and the token that follows is theirs. Anyone else changes nothing."""
        now = self._clock.now()
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            if not connection.repairing or user not in (connection.repair_asked or "").split():
                return False
            connection.repair_clicked_by = user
            connection.repair_started_at = now
            connection.next_due_at = now
            due_now(session)
            connection.updated_at = now
            return True

    @staticmethod
    def _clear(connection: Connection) -> None:
        connection.repair_by = None
        connection.repair_username = None
        connection.repair_reason = None
        connection.repair_started_at = None
        connection.repair_from_token = None
        connection.repair_from_created = None
        connection.repair_asked = None
        connection.repair_clicked_by = None
