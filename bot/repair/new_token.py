"""A new token appeared on a connection's own OAuth client: whoever notices it (the repair
watch, or the health watch after that watch gave up), what still names the old token is
relinked to the new one at once, as a move nobody is asked to approve."""

from __future__ import annotations

from bot.connections.model import Connection
from bot.move.store import Moves


def relink_old_token(moves: Moves | None, connection: Connection, old_token: str | None) -> None:
    """Terraform issued `connection`'s token under a new id: move what named `old_token`."""
    if moves is None or not old_token or old_token == connection.oauth_token_id:
        return
    moves.plan(connection, connection, asked_by="bot", only_token=old_token, approved=True)
