"""The health watch after "connected": does the token work? Terraform is asked to use it.

A connection whose client or token is gone, or whose token Bitbucket refused twice in a row,
becomes broken (and its people are told); an outage never breaks one; one whose token works
again (or is back) is connected again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from bot.clients.tfe import RepoSight, TFEClient, TFEError, TFEErrorKind
from bot.clients.token_answers import Answer, classify, in_words
from bot.clock import Clock, SystemClock
from bot.connections.dependents import Dependents
from bot.connections.model import Connection, HealthOutcome
from bot.connections.outbox import Owed
from bot.connections.service import ConnectionService
from bot.connections.states import InvalidTransition, State
from bot.move.flow import Relinks
from bot.watch.store import TokenChecks

log = logging.getLogger(__name__)

# Refusals in a row that make a connection broken, and the least time between them.
REFUSALS_TO_BREAK = 2
REFUSAL_SPACING = 60.0
# A Terraform without the token test is asked again after this long.
RETRY_TOKEN_TEST = 86400.0


def refused_problem(error: TFEError) -> str:
    """What a connection broken by refusals says: the likely causes, the remedies in order."""
    return (
        "Bitbucket refuses the OAuth token Terraform holds for this connection (Terraform "
        f"answered {in_words(error)}), so runs that fetch from Bitbucket fail. Likely causes: "
        "the authorization expired after three months unused (Bitbucket Cloud drops those "
        "since May 2026), the OAuth consumer was deleted or its secret reset in Bitbucket, or "
        "the account that authorized lost access. Press Re-authorize first (the same client "
        "gets a new token, and workspaces stay linked); if the consumer itself changed, "
        "Rotate gives the client its new key and secret."
    )


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
        checks: TokenChecks,
        health_every: float = 21600.0,
    ) -> None:
        self.relinks = relinks
        self.checks = checks
        # Two refusals count when a minute apart (or a health interval, when checks come
        # oftener than that), so one blip of Bitbucket's never breaks a connection.
        self.refusal_spacing = min(REFUSAL_SPACING, health_every)
        self._untestable_until: datetime | None = None
        self.service = service
        self.tfe = tfe
        self.dependents = dependents
        # Counting reads every page of three lists of the organization: more calls than the
        # check itself, so it is done every few checks, not each one.
        self.count_every = timedelta(seconds=count_every)
        self.clock = clock or SystemClock()

    def check(self, connection_id: int) -> tuple[Connection, bool]:
        """After "connected": does the token work? Terraform is asked to use it (one small
        page of the repositories it reads through it); only when that says 404 is the client
        looked at, to tell "token gone", "client gone" and "this Terraform cannot test
        tokens" apart. Moves the connection to broken (a client or token gone, or two
        refusals in a row), or back to connected; returns it and whether this call changed
        its state."""
        connection = self.service.get(connection_id)
        if (
            connection.state not in (State.CONNECTED, State.BROKEN)
            or not connection.oauth_client_id
            or connection.repairing  # the repair watch looks at it closely meanwhile
        ):
            return connection, False
        token = connection.oauth_token_id
        if token is None or not self._may_test_tokens():
            return self._exists(connection, tested=False)
        try:
            sight = self.tfe.authorized_repos(token)
        except TFEError as error:
            answer = classify(error)
            if answer == Answer.OUTAGE:
                self.checks.could_not_check(connection_id)
                raise  # the lane tries again later; an outage never breaks a connection
            if answer == Answer.REFUSED:
                return self._refused(connection, error)
            return self._exists(connection, tested=True)
        return self._works(connection, sight)

    def _may_test_tokens(self) -> bool:
        return self._untestable_until is None or self.clock.now() >= self._untestable_until

    def _works(self, connection: Connection, sight: RepoSight) -> tuple[Connection, bool]:
        seen = sight.total if sight.total is not None else sight.listed
        outcome = HealthOutcome.WORKS if sight.listed else HealthOutcome.SEES_NOTHING
        self.checks.worked(connection.id, outcome, seen)  # the check's one write
        self._count_dependents(connection, {connection.oauth_token_id or ""})
        if connection.state == State.BROKEN:
            log.info("connection works again", extra={"connection": connection.id})
            return self._move(
                connection.id,
                State.CONNECTED,
                expect=State.BROKEN,
                note="Terraform uses its token at Bitbucket again",
                status_note=None,
                owes=[Owed.HEALED],
                unless_repairing=True,
            )
        return self.service.get(connection.id), False

    def _refused(self, connection: Connection, error: TFEError) -> tuple[Connection, bool]:
        refusals = self.checks.refused(connection.id, in_words(error), spacing=self.refusal_spacing)
        if refusals < REFUSALS_TO_BREAK or connection.state != State.CONNECTED:
            return self.service.get(connection.id), False
        problem = refused_problem(error)
        self.service.record_health(connection.id, problem)
        log.warning(
            "connection broken: Bitbucket refuses its token", extra={"connection": connection.id}
        )
        return self._move(
            connection.id,
            State.BROKEN,
            expect=State.CONNECTED,
            note=problem,
            status_note=problem,
            owes=[Owed.BROKEN],
        )

    def _exists(self, connection: Connection, *, tested: bool) -> tuple[Connection, bool]:
        """Today's check: does Terraform still hold the client and a token? `tested`: the
        token test said 404, so a token still there means this Terraform cannot test."""
        connection_id = connection.id
        client_id = connection.oauth_client_id
        assert client_id is not None
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
            if connection.oauth_token_id in tokens and (tested or not self._may_test_tokens()):
                self._cannot_test(connection, tested=tested)
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

    def _cannot_test(self, connection: Connection, *, tested: bool) -> None:
        """The token is there but Terraform answered 404 to testing it: this Terraform lacks
        the endpoint. Existence is watched instead; the endpoint is tried again daily."""
        if tested:
            self._untestable_until = self.clock.now() + timedelta(seconds=RETRY_TOKEN_TEST)
            log.warning(
                "this Terraform does not let the bot test tokens (authorized-repos answers "
                "404); only their existence is watched, and the bot tries again in a day",
                extra={"connection": connection.id},
            )
        self.checks.existence_only(connection.id)

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
