"""Before a move is planned, ask Terraform which of its repositories the new token sees
(`GET /organizations/:org/vcs/repo`, once per distinct repository), so an item the new
connection cannot reach is left out before anyone approves instead of spending a refused
PATCH on it. Where Terraform cannot answer, the move goes as before, and says so."""

from __future__ import annotations

import logging

from bot.clients.tfe import TFEClient, TFEError
from bot.connections.model import Connection
from bot.connections.move_tables import Move, RepoCheck
from bot.move.store import Moves, Sight

log = logging.getLogger(__name__)

# A dry run asks about this many repositories at most; a bigger move goes unchecked (its
# PATCHes say which repositories fail) rather than hold the people's lane for minutes.
MOST_CHECKED = 200


def hidden_reason(identifier: str) -> str:
    return (
        f"the new connection cannot see {identifier}: the account that authorized it needs "
        "read access to that repository (admin, for webhooks)"
    )


class RepoSight:
    def __init__(self, moves: Moves, tfe: TFEClient) -> None:
        self.moves = moves
        self.tfe = tfe

    def look(self, old: Connection, new: Connection, only_token: str | None = None) -> Sight:
        """Which repositories of what `old` used the new token cannot see."""
        assert new.oauth_token_id is not None
        repositories = self.moves.repositories_to_move(old.id, only_token)
        if len(repositories) > MOST_CHECKED:
            return Sight(hidden={}, checked=RepoCheck.UNCHECKED)
        hidden: dict[str, str] = {}
        for identifier in repositories:
            try:
                seen = self.tfe.repo_visible(new.organization, identifier, new.oauth_token_id)
            except TFEError as error:
                log.info(
                    "could not ask which repositories the new token sees",
                    extra={"connection": new.id, "error": error.kind.value},
                )
                return Sight(hidden={}, checked=RepoCheck.UNCHECKED)
            if seen is None:  # this Terraform lacks the check
                return Sight(hidden={}, checked=RepoCheck.UNCHECKED)
            if not seen:
                hidden[identifier] = hidden_reason(identifier)
        return Sight(hidden=hidden, checked=RepoCheck.CHECKED)

    def plan(
        self,
        old: Connection,
        new: Connection,
        *,
        asked_by: str,
        only_token: str | None = None,
        approved: bool = False,
    ) -> Move | None:
        """The dry run, with what the new token cannot see left out (asked once: a move
        already open is returned as it is)."""
        existing = self.moves.open_move(old.id, new.id)
        if existing is not None:
            return existing
        return self.moves.plan(
            old,
            new,
            asked_by=asked_by,
            only_token=only_token,
            approved=approved,
            sight=self.look(old, new, only_token),
        )
