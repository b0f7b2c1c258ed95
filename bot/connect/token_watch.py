"""Steps 4 and 5 of the connection flow: the owner authorizes, and the bot watches TFE for
the token (part of ConnectFlow). Also what "connected" settles: the broken connections the
new one replaces."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.clients.tfe import TFEClient, TFEError, TFEErrorKind
from bot.clock import Clock
from bot.connections import schedule
from bot.connections.model import Connection
from bot.connections.outbox import Owed
from bot.connections.service import ConnectionService
from bot.connections.states import InvalidTransition, State

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlowSettings:
    bitbucket_url: str
    bitbucket_api_url: str
    token_poll_every: float


class TokenWatch:
    """After the Authorize link: is Terraform holding the token yet? (people's lane)"""

    def __init__(
        self, service: ConnectionService, tfe: TFEClient, settings: FlowSettings, clock: Clock
    ) -> None:
        self.service = service
        self.tfe = tfe
        self.settings = settings
        self.clock = clock

    def authorize_opened(self, connection_id: int) -> bool:
        """The owner opened the authorize link: watch closely from now on."""
        return self.service.mark_authorize_clicked(connection_id)

    def check_token(self, connection_id: int) -> tuple[Connection, bool]:
        """Ask TFE whether it holds a token for the connection's client; advance if so.

        Returns the connection and whether this call changed its state, so that exactly one
        caller (of several replicas) tells Slack.
        """
        connection = self.service.get(connection_id)
        if connection.state != State.AWAITING_AUTHORIZATION:
            return connection, False
        assert connection.oauth_client_id is not None
        try:
            tokens = self.tfe.list_oauth_tokens(connection.oauth_client_id)
        except TFEError as error:
            if error.kind != TFEErrorKind.NOT_FOUND:
                raise
            return self.advance_once(
                connection_id,
                State.FAILED,
                status_note=(
                    f"The OAuth client {connection.oauth_client_id} is gone from Terraform "
                    "(deleted, or the bot's token lost access to it). Press Start over to "
                    "begin again."
                ),
            )
        if not tokens:
            return connection, False
        token = tokens[0]
        if connection.data_center:
            # Terraform clones from Data Center over SSH: the token's key comes first.
            return self.advance_once(
                connection_id,
                State.AWAITING_SSH_KEY,
                note=f"TFE holds OAuth token {token.id}; it needs an SSH key",
                oauth_token_id=token.id,
                oauth_token_created=token.created_at,
                authorized_as=token.service_provider_user,
            )
        connection, changed = self.advance_once(
            connection_id,
            State.CONNECTED,
            note=f"TFE holds OAuth token {token.id}",
            oauth_token_id=token.id,
            oauth_token_created=token.created_at,
            authorized_as=token.service_provider_user,
            credentials_set_at=self.clock.now(),
            owes=[Owed.CONNECTED, Owed.WRONG_ACCOUNT],
        )
        if changed:
            log.info(
                "connection complete",
                extra={"connection": connection_id, "client": connection.oauth_client_id},
            )
        return connection, changed

    def close_replaced(self, connection: Connection) -> list[int]:
        """Close the broken connections a newly connected one replaces; returns their ids.
        Their OAuth clients stay in Terraform: workspaces may still point at them."""
        closed = []
        for old in self.service.replaced_by(connection):
            _, changed = self.advance_once(
                old.id,
                State.CANCELLED,
                expect=State.BROKEN,
                note=f"replaced by connection #{connection.id}",
                status_note=(
                    f"Replaced by connection #{connection.id}. What used OAuth client "
                    f"{old.oauth_client_id} can be moved to the new connection: an approver "
                    "starts the move from its dry run in the channel, then deletes the old "
                    "client."
                ),
                owes=[Owed.HOME],
            )
            if changed:
                closed.append(old.id)
        return closed

    def advance_once(
        self,
        connection_id: int,
        target: State,
        *,
        expect: State = State.AWAITING_AUTHORIZATION,
        actor: str = "bot",
        note: str | None = None,
        **changes: Any,
    ) -> tuple[Connection, bool]:
        """Move from `expect` to `target`; (current connection, False) if it was not there."""
        try:
            connection = self.service.advance_to(
                connection_id, target, actor=actor, note=note, expect=expect, **changes
            )
        except InvalidTransition:
            return self.service.get(connection_id), False
        return connection, True

    def needs_authorize_hint(self, connection: Connection) -> bool:
        """Clicked Authorize a while ago, still no token, and not told why yet."""
        clicked = connection.authorize_clicked_at
        if (
            connection.state != State.AWAITING_AUTHORIZATION
            or clicked is None
            or connection.authorize_hint_sent_at is not None
        ):
            return False
        waited = (self.clock.now() - clicked).total_seconds()
        return waited >= schedule.authorize_hint_after(self.settings.token_poll_every)

    def next_token_check(self, connection: Connection) -> datetime | None:
        """When to look for the token next: often right after the click, slower later."""
        now = self.clock.now()
        if connection.state != State.AWAITING_AUTHORIZATION:
            return None
        return now + timedelta(
            seconds=schedule.token_check_interval(
                connection.authorize_clicked_at, now, self.settings.token_poll_every
            )
        )
