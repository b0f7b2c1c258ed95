"""The health watch after "connected": TFE must still hold the OAuth client and a token.

A connection whose client or token is gone becomes broken (and its people are told); one
whose token is back (someone authorized again in TFE) is connected again.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from bot.clients.tfe import TFEClient, TFEError, TFEErrorKind
from bot.clock import Clock, SystemClock
from bot.connections.dependents import Dependents
from bot.connections.model import Connection
from bot.connections.outbox import Owed
from bot.connections.service import ConnectionService
from bot.connections.states import InvalidTransition, State
from bot.move.flow import Relinks

log = logging.getLogger(__name__)


class HealthWatch:
    def __init__(
        self,
        service: ConnectionService,
        tfe: TFEClient,
        dependents: Dependents | None = None,
        *,
        count_every: float = 86400.0,
        clock: Clock | None = None,
        relinks: Relinks | None = None,
    ) -> None:
        self.relinks = relinks
        self.service = service
        self.tfe = tfe
        self.dependents = dependents
        # Counting reads every page of three lists of the organization: more calls than the
        # check itself, so it is done every few checks, not each one.
        self.count_every = timedelta(seconds=count_every)
        self.clock = clock or SystemClock()

    def check(self, connection_id: int) -> tuple[Connection, bool]:
        """After "connected": does TFE still hold the client and a token? Moves the
        connection to broken, or back to connected when a token is there again; returns
        it and whether this call changed its state."""
        connection = self.service.get(connection_id)
        if (
            connection.state not in (State.CONNECTED, State.BROKEN)
            or not connection.oauth_client_id
            or connection.repairing  # the repair watch looks at it closely meanwhile
        ):
            return connection, False
        client_id = connection.oauth_client_id
        token_id: str | None = None
        token_created: str | None = None
        gone = False
        try:
            client = self.tfe.get_oauth_client(client_id)
            tokens = list(client.token_ids)
            if not tokens or connection.state == State.BROKEN:
                # The list says when each was made and by whom: what a heal records.
                listed = self.tfe.list_oauth_tokens(client_id)
                tokens = [t.id for t in listed]
                token_created = listed[0].created_at if listed else None
        except TFEError as error:
            if error.kind != TFEErrorKind.NOT_FOUND:
                raise
            gone = True
            problem: str | None = (
                f"The OAuth client {client_id} is gone from Terraform: someone deleted it, or "
                "the bot's token lost access to it. Workspaces using it can no longer reach "
                "Bitbucket."
            )
        else:
            problem = (
                None
                if tokens
                else f"Terraform still has the OAuth client {client_id} but no OAuth token "
                "for it: the token was deleted (or never issued again), so Terraform cannot "
                "reach Bitbucket."
            )
            token_id = tokens[0] if tokens else None
            if tokens:
                self._count_dependents(connection, {*tokens, connection.oauth_token_id or ""})
        self.service.record_health(connection_id, problem, client_gone=gone)
        if problem and connection.state == State.CONNECTED:
            log.warning("connection broken", extra={"connection": connection_id})
            return self._move(
                connection_id,
                State.BROKEN,
                expect=State.CONNECTED,
                note=problem,
                status_note=problem,
                owes=[Owed.BROKEN],
            )
        if not problem and connection.state == State.BROKEN:
            log.info("connection works again", extra={"connection": connection_id})
            healed, changed = self._move(
                connection_id,
                State.CONNECTED,
                expect=State.BROKEN,
                note=f"TFE holds OAuth token {token_id} again",
                oauth_token_id=token_id,
                oauth_token_created=token_created,
                status_note=None,
                owes=[Owed.HEALED],
                unless_repairing=True,
            )
            if changed and self.relinks is not None:
                self.relinks.after_new_token(healed, connection.oauth_token_id)
            return healed, changed
        log.debug(
            "connection healthy" if not problem else "still broken",
            extra={"connection": connection_id},
        )
        return self.service.get(connection_id), False

    def _count_dependents(self, connection: Connection, tokens: set[str]) -> None:
        """What uses the client's tokens, counted while the client exists (a client gone
        leaves the last list standing: it is what must be relinked)."""
        if self.dependents is None:
            return
        counted = connection.dependents_checked_at
        if counted is not None and self.clock.now() - counted < self.count_every:
            return
        try:
            found = self.tfe.dependents.list_dependents(connection.organization, tokens - {""})
        except TFEError as error:
            log.warning(
                "could not count what uses the connection; the last count stands",
                extra={"connection": connection.id, "status": error.status},
            )
            return
        self.dependents.record(connection.id, found)

    def _move(
        self, connection_id: int, target: State, *, expect: State, note: str, **changes: Any
    ) -> tuple[Connection, bool]:
        try:
            moved = self.service.advance_to(
                connection_id, target, actor="bot", note=note, expect=expect, **changes
            )
        except InvalidTransition:  # another replica moved it first
            return self.service.get(connection_id), False
        return moved, True
