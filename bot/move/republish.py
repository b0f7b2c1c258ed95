"""Re-publishing a move's registry modules from the new connection: each is deleted from the
private registry and published again from its repository with the new token (a module's VCS
source cannot be changed in place). Only after its own confirmation: versions come back
only from the repository's tags."""

from __future__ import annotations

import logging

from bot.clients.tfe import TFEClient, TFEError
from bot.connections.move_tables import Move
from bot.move.store import Moves

log = logging.getLogger(__name__)


def republish(moves: Moves, tfe: TFEClient, move: Move, user: str) -> str:
    """Re-publish every module the old connection's token served; returns the report, a
    line a module. Runs once per move, for the first who confirms."""
    if not moves.claim_republish(move.id, user):
        return ""
    lines = []
    for module in moves.modules_of(move):
        where = f"{module.name}/{module.provider or '?'}"
        if not module.identifier or not module.provider:
            lines.append(f"{where}: not re-published, the bot's list lacks its repository")
            continue
        try:
            tfe.dependents.republish_module(
                move.organization,
                name=module.name,
                provider=module.provider,
                identifier=module.identifier,
                token_id=move.to_token_id,
            )
        except TFEError as error:
            said = "; ".join(error.details) or error.user_message
            lines.append(f"{where}: failed ({said})")
            log.warning("re-publishing a module failed", extra={"status": error.status})
            continue
        lines.append(f"{where}: re-published from {module.identifier}")
    report = "\n".join(lines) or "no modules to re-publish"
    moves.modules_republished(move.id, user, report)
    return report
