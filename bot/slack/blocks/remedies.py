"""The remedies of a connection in trouble, as buttons: every surface (progress message,
notices, direct messages, status, App Home) builds them here, so they read the same."""

from __future__ import annotations

from slack_sdk.models.blocks import ButtonElement, ConfirmObject

from bot.connections.model import Connection
from bot.slack import ids
from bot.slack.blocks.kit import button
from bot.slack.text import fit


def reauthorize_button(connection: Connection, *, primary: bool = True) -> ButtonElement:
    """Re-authorize: the same OAuth client gets a new token; what is linked stays."""
    return button("Re-authorize", ids.REAUTHORIZE, value=str(connection.id), primary=primary)


def rotate_button(connection: Connection) -> ButtonElement:
    """Rotate: a new consumer key and secret on the same client."""
    return button("Rotate", ids.ROTATE, value=str(connection.id))


def reconnect_button(connection: Connection, *, primary: bool = True) -> ButtonElement:
    """Reconnect: a new connection (a new client, then a move), when the client is gone."""
    return button("Reconnect", ids.RECONNECT, value=str(connection.id), primary=primary)


def remedy_buttons(connection: Connection) -> list[ButtonElement]:
    """A broken connection's remedies, cheapest first, the same on every surface:
    Re-authorize while the client exists (workspaces stay linked), Rotate (a new key and
    secret on the same client), and Reconnect last (a new client, then a move), or alone
    when the client is gone."""
    if connection.client_gone or not connection.oauth_client_id:
        return [reconnect_button(connection)]
    return [
        reauthorize_button(connection),
        rotate_button(connection),
        reconnect_button(connection, primary=False),
    ]


def cancel_button(connection: Connection) -> ButtonElement:
    """Cancel, with Slack's own confirmation dialog first."""
    cancel = button("Cancel connection", ids.CANCEL, value=str(connection.id))
    cancel.style = "danger"
    cancel.confirm = ConfirmObject(
        title="Cancel this connection?",
        text=(
            f"Connection #{connection.id} for {fit(connection.organization, 200)} stops here. "
            "If the bot created an OAuth client in Terraform and it has no token, the bot "
            "deletes it."
        ),
        confirm="Cancel connection",
        deny="Keep it",
    )
    return cancel
