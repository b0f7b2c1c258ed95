"""The Data Center steps in the store: each a transaction that checks, under the row's lock,
that the connection is where the step belongs and that the person may take it, so a button
not shown, a second press or a stranger's click changes nothing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.connections.model import Connection
from bot.connections.outbox import Owed, owe
from bot.connections.states import State
from bot.connections.store import Store
from bot.problems import Problem


@dataclass(frozen=True)
class MadeClient:
    """Terraform's Data Center client as the application link needs it."""

    id: str
    name: str
    consumer_key: str
    public_key: str
    connect_path: str | None


class DataCenterStore(Store):
    """The Data Center columns of connections; each method one transaction."""

    def client_made(self, connection_id: int, client: MadeClient) -> Connection | None:
        """The client exists: the administrator's step is next (its values to the owner).
        None when the connection moved on meanwhile (cancelled, say)."""
        now = self._clock.now()
        with self._transaction() as session:
            connection = self._creating(session, connection_id)
            if connection is None:
                return None
            connection.oauth_client_id = client.id
            connection.oauth_client_name = client.name
            connection.consumer_key = client.consumer_key
            connection.link_public_key = client.public_key
            connection.connect_path = client.connect_path
            self._move(
                session,
                connection,
                State.AWAITING_LINK,
                "bot",
                now,
                note=f"created OAuth client {client.id}",
            )
            owe(session, connection.id, [Owed.LINK_STEPS], now)
            return connection

    def client_refused(self, connection_id: int, note: str) -> Connection | None:
        """Terraform refused the client: the connection failed, saying why (Start over)."""
        now = self._clock.now()
        with self._transaction() as session:
            connection = self._creating(session, connection_id)
            if connection is None:
                return None
            connection.status_note = note
            self._move(session, connection, State.FAILED, "bot", now, note=note)
            return connection

    def _creating(self, session: Session, connection_id: int) -> Connection | None:
        """The create is over: its claim goes; the connection, if it still waits for it."""
        connection = self._locked(session, connection_id)
        connection.client_create_started_at = None
        connection.client_create_owner = None
        return connection if connection.state == State.AWAITING_CREDENTIALS else None

    def hand_link_to(self, connection_id: int, actor: str, helper: str) -> Connection:
        """The owner hands the application link to a colleague, who gets its values."""
        now = self._clock.now()
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            if connection.state != State.AWAITING_LINK:
                raise Problem(_past("the application link", connection), retryable=False)
            if actor != connection.owner_id:
                raise Problem(_owner_only(connection, "hand the step on"), retryable=False)
            connection.link_helper = helper
            connection.updated_at = now
            self._record(
                session,
                connection,
                connection.state,
                connection.state,
                actor,
                now,
                note=f"handed the application link to {helper}",
            )
            owe(session, connection.id, [(Owed.LINK_HANDOFF, helper), Owed.PROGRESS], now)
            return connection

    def link_created(self, connection_id: int, actor: str) -> tuple[Connection, bool]:
        """The application link exists: the Authorize link goes to the owner. Only the owner
        and the colleague they handed the step to may say so; a second press moves nothing."""
        now = self._clock.now()
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            if connection.state != State.AWAITING_LINK:
                return connection, False
            if actor not in (connection.owner_id, connection.link_helper):
                helper = f" or <@{connection.link_helper}>" if connection.link_helper else ""
                raise Problem(
                    f"Only <@{connection.owner_id}>, who owns connection #{connection.id}"
                    f"{helper}, can say the link exists.",
                    retryable=False,
                )
            self._move(
                session,
                connection,
                State.AWAITING_AUTHORIZATION,
                actor,
                now,
                note="the application link was created",
            )
            owe(session, connection.id, [Owed.AUTHORIZE], now)
            return connection, True

    def token_keyed(self, connection_id: int, token_id: str, public_key: str) -> Connection | None:
        """Terraform's token has its SSH key: the owner gets the public half to add. None
        when the connection holds another token by now (it gets a key of its own)."""
        now = self._clock.now()
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            if connection.oauth_token_id != token_id:
                return None
            # The message says which token, and whether it is the first step or a
            # replacement: one sent late must not ask again for what was done.
            which = "first" if connection.state == State.AWAITING_SSH_KEY else "replace"
            connection.ssh_public_key = public_key
            connection.ssh_key_token = token_id
            connection.updated_at = now
            owe(
                session,
                connection.id,
                [Owed.PROGRESS, Owed.HOME, (Owed.SSH_KEY, f"{which} {token_id}")],
                now,
            )
            return connection

    def ssh_key_added(self, connection_id: int, actor: str) -> tuple[Connection, bool]:
        """The owner added the SSH key in Bitbucket: the connection is connected, and the
        channel hears it. Refused before the bot has given the key."""
        now = self._clock.now()
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            if actor != connection.owner_id:
                raise Problem(_owner_only(connection, "say the SSH key is added"), retryable=False)
            if connection.state != State.AWAITING_SSH_KEY:
                return connection, False
            if not connection.ssh_public_key or connection.token_needs_ssh_key:
                raise Problem(
                    "The bot has not given the SSH key yet: wait for it in the progress "
                    "message, then add it.",
                    retryable=False,
                )
            connection.credentials_set_at = now
            self._move(
                session,
                connection,
                State.CONNECTED,
                actor,
                now,
                note=f"the SSH key is on the service user; TFE holds {connection.oauth_token_id}",
            )
            owe(session, connection.id, [Owed.CONNECTED, Owed.WRONG_ACCOUNT], now)
            return connection, True


def _past(step: str, connection: Connection) -> str:
    return f"Connection #{connection.id} is past {step} ({connection.state.words})."


def _owner_only(connection: Connection, what: str) -> str:
    return f"Only <@{connection.owner_id}>, who owns connection #{connection.id}, can {what}."
