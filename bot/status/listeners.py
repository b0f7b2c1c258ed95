"""Status's buttons: As Terraform shows the code that adopts a connection, to whoever may
see the connection (the check runs again on the server: a forged press by anyone else gets
the same answer as a connection that does not exist)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.connections.model import Connection
from bot.deps import SlackDeps
from bot.slack import ids
from bot.slack.blocks.kit import context_block, section
from bot.slack.preludes import channel_of, on_connection_button
from bot.slack.text import escape
from bot.status.as_code import as_terraform


def show_as_terraform(
    deps: SlackDeps, connection: Connection, body: dict[str, Any], client: WebClient
) -> None:
    user, channel = body["user"]["id"], channel_of(body)
    if not deps.access.may_see(user, connection.owner_id) or not connection.oauth_client_id:
        deps.notifier.tell_user(channel, user, "That connection no longer exists.")
        return
    used_by, _total = deps.dependents.of(connection.id, limit=50)
    code = as_terraform(connection, used_by)
    org = escape(connection.organization)
    blocks = [
        section(
            f"*Connection #{connection.id} of {org} as Terraform.* Use it where your "
            f"Terraform code manages *{org}*: the data source reads the OAuth client the bot "
            "made, and each `vcs_repo` uses its token."
        ).to_dict(),
        section(f"```\n{escape(code)}```").to_dict(),
        context_block(
            "Read, not imported: the tfe provider's tfe_oauth_client has no importer and "
            "cannot create a Bitbucket Cloud client, so the bot keeps the client (Re-authorize "
            "and Rotate stay here) and your code only uses its token."
        ).to_dict(),
    ]
    deps.notifier.tell_user(
        channel, user, f"Connection #{connection.id} of {org} as Terraform", blocks=blocks
    )


def on_as_terraform(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    ack()
    on_connection_button(deps, body, client, "showing it as Terraform", show_as_terraform)


def register(app: App) -> None:
    app.action(ids.numbered(ids.AS_TERRAFORM))(on_as_terraform)
