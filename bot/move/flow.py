"""Relinking one item of a move (a workspace or a policy set) to the new token: run by the
move lane, paced with the bulk lane's share of the Terraform rate."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.clients.tfe import TFEClient, TFEError, TFEErrorKind
from bot.connections.model import Connection
from bot.connections.move_tables import ItemStatus, MoveState
from bot.move.sight import RepoSight
from bot.move.store import Moves

log = logging.getLogger(__name__)

# A refusal for the rate or an outage is tried again this often (doubling), then given up.
RETRY_FIRST = 5.0
RETRY_MAX = 300.0
RETRIES = 8
# The progress message is updated at most this often per move and process (chat.update is
# Tier 3); the final report is owed through the outbox and never skipped.
PROGRESS_EVERY = 2.0


def project_scope(connection: Connection) -> frozenset[str] | None:
    """The projects a connection is limited to; None when it is organization-wide."""
    if not connection.project_ids:
        return None
    return frozenset(connection.project_ids.split(","))


def refusal(error: TFEError) -> str | None:
    """Why an item failed for good, in plain words; None when it is worth trying again."""
    if error.kind in (TFEErrorKind.RATE_LIMITED, TFEErrorKind.UNAVAILABLE):
        return None
    if error.kind == TFEErrorKind.INVALID:
        said = "; ".join(error.details) or "it refused the change"
        return f"Terraform refused: {said}"
    if error.kind == TFEErrorKind.NOT_FOUND:
        return "no longer in Terraform (deleted?), or the bot's token may not see it"
    if error.kind == TFEErrorKind.FORBIDDEN:
        return "the bot's Terraform token may not change it (403)"
    return error.user_message


@dataclass(frozen=True)
class MoveLane:
    """What the move lane needs: the store that leases items, and the work on each."""

    store: Moves
    work: MoveWork
    sight: RepoSight  # plans a move with what the new token cannot see left out


class MoveWork:
    def __init__(
        self,
        moves: Moves,
        tfe: TFEClient,
        *,
        owed: Callable[[int], None],
        progress: Callable[[int], None],
        scopes: Callable[[int], frozenset[str] | None] | None = None,
        counted: Callable[[str], None] | None = None,
    ) -> None:
        self.counted = counted  # told each item's outcome (the metrics)
        # A connection's project scope (None: organization-wide), by connection id.
        self.scopes = scopes
        self.moves = moves
        self.tfe = tfe
        self.owed = owed  # send what a connection owes now (the move's final message)
        self.progress = progress  # update a move's message in place
        self._shown: dict[int, float] = {}
        self._lock = threading.Lock()

    def handle(self, item_id: int, worker: str) -> None:
        found = self.moves.item(item_id)
        if found is None:
            return
        item, move = found
        if item.status != ItemStatus.PENDING or move.state != MoveState.RUNNING:
            return
        retry_in: float | None = None
        status, reason = ItemStatus.DONE, None
        scope = self.scopes(move.to_connection_id) if self.scopes else None
        if not item.identifier:
            status, reason = ItemStatus.FAILED, "the bot's list does not say which repository"
        elif scope and item.kind == "workspace" and item.project_id not in scope:
            status, reason = (
                ItemStatus.FAILED,
                (
                    "outside the new connection's projects ("
                    + (
                        f"it is in {item.project_id}"
                        if item.project_id
                        else "its project is unknown"
                    )
                    + "); add its project to the connection, or relink it by hand"
                ),
            )
        else:
            try:
                self.tfe.dependents.relink(
                    item.kind,
                    item.tfe_id,
                    token_id=move.to_token_id,
                    identifier=item.identifier,
                    branch=item.branch,
                )
            except TFEError as error:
                reason = refusal(error)
                if reason is not None:
                    status = ItemStatus.FAILED
                elif item.attempts + 1 >= RETRIES:
                    status, reason = ItemStatus.FAILED, error.user_message
                else:
                    retry_in = min(RETRY_MAX, RETRY_FIRST * 2**item.attempts)
                    reason = error.user_message
        settled = self.moves.settle_item(
            item_id, worker, status=status, reason=reason, retry_in=retry_in
        )
        if settled is None:
            return  # the claim ran out and another took it
        if self.counted is not None:
            self.counted("retry" if retry_in is not None else str(status))
        move, finished = settled
        if finished:
            log.info("move finished", extra={"connection": move.to_connection_id})
            self.owed(move.to_connection_id)
        elif retry_in is None and self._time_to_show(move.id):
            self.progress(move.id)

    def _time_to_show(self, move_id: int) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._shown.get(move_id, 0.0) < PROGRESS_EVERY:
                return False
            self._shown[move_id] = now
            return True


class Relinks:
    """A new token appeared on a connection's own OAuth client: whoever notices it (the
    repair watch, or the health watch after that watch gave up), what still names the old
    token is relinked to the new one at once, as a move nobody is asked to approve."""

    def __init__(self, sight: RepoSight) -> None:
        self.sight = sight

    def after_new_token(self, connection: Connection, old_token: str | None) -> None:
        """`connection` holds a token under a new id: move what named `old_token`."""
        if not old_token or old_token == connection.oauth_token_id:
            return
        self.sight.plan(connection, connection, asked_by="bot", only_token=old_token, approved=True)
