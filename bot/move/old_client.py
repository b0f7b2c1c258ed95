"""Delete old client, after a move: only once nothing in Terraform uses the old client's
tokens, never a client a connection still stands on, and one DELETE however many press."""

from __future__ import annotations

import logging

from bot.clients.tfe import TFEClient, TFEError, TFEErrorKind
from bot.connections.service import ConnectionService
from bot.move.old_client_claims import OldClients
from bot.move.store import Moves

log = logging.getLogger(__name__)


class OldClientDeletion:
    def __init__(
        self, moves: Moves, claims: OldClients, service: ConnectionService, tfe: TFEClient
    ) -> None:
        self.moves = moves
        self.claims = claims
        self.service = service
        self.tfe = tfe

    def delete(self, move_id: int, user: str) -> str:
        """Delete a finished move's old OAuth client; returns what the one who pressed is
        told. The caller has checked that `user` may."""
        refusal = self.claims.claim_old_client(move_id, user)
        if refusal is not None:
            return refusal
        try:
            said, deleted = _delete(self.moves, self.service, self.tfe, move_id)
        except Exception:
            self.claims.release_old_client(move_id, user)
            raise
        if deleted:
            self.moves.old_client_deleted(move_id, user)
        else:
            self.claims.release_old_client(move_id, user)
        return said


def _delete(
    moves: Moves, service: ConnectionService, tfe: TFEClient, move_id: int
) -> tuple[str, bool]:
    move = moves.get(move_id)
    assert move is not None and move.from_client_id
    client_id = move.from_client_id
    old = service.get(move.from_connection_id)
    try:
        client = tfe.get_oauth_client(client_id)
    except TFEError as error:
        if error.kind != TFEErrorKind.NOT_FOUND:
            return f"{error.user_message} The old client stays.", False
        return f"The old client {client_id} is gone from Terraform already.", True
    # Every token the old client ever stood for: its own now, the old connection's, and
    # whatever the kept list saw named (registry modules a move does not relink among them).
    tokens = {*client.token_ids, old.oauth_token_id or "", *moves.kept_tokens(old.id)} - {""}
    try:
        found = tfe.dependents.list_dependents(move.organization, tokens) if tokens else {}
    except TFEError as error:
        return f"{error.user_message} The old client stays.", False
    unlisted = [kind for kind, listed in found.items() if listed is None]
    if unlisted:
        return (
            f"Terraform would not list the {' and '.join(k + 's' for k in unlisted)} of "
            f"{move.organization} for the bot, so it cannot tell whether they use the old "
            "client. The old client stays; delete it in Terraform once you have checked."
        ), False
    using = [d for listed in found.values() for d in (listed or [])]
    if using:
        names = ", ".join(f"{d.kind} {d.name}" for d in using[:10])
        more = f" and {len(using) - 10} more" if len(using) > 10 else ""
        return (
            f"Refused: {len(using)} still use the old client ({names}{more}). Relink them (or "
            "move them again), then press Delete old client."
        ), False
    try:
        tfe.delete_oauth_client(client_id)
    except TFEError as error:
        if error.kind != TFEErrorKind.NOT_FOUND:
            return f"{error.user_message} The old client stays.", False
    log.info("deleted an old OAuth client after a move", extra={"connection": old.id})
    return f"Deleted the old OAuth client {client_id}.", True
