"""After "connected": a broken connection, one that works again, and an owner who left."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import ActionsBlock

from bot.connections.model import Connection
from bot.slack import ids
from bot.slack.blocks.describe import linked, ownership
from bot.slack.blocks.kit import button, section
from bot.slack.blocks.remedies import reauthorize_button, remedy_buttons
from bot.slack.text import code, escape, fit_escaped


def broken_message(connection: Connection) -> tuple[str, list[dict[str, Any]]]:
    """For the channel, the owner and the approvers: what broke, and the remedy: Re-authorize
    while the client exists (everything linked stays linked), else Reconnect."""
    org = escape(connection.organization)
    used = linked(connection)
    if connection.client_gone:
        remedy = (
            "The OAuth client itself is gone, so it cannot be re-authorized: press *Reconnect* "
            "to set up a new connection with the same settings."
        )
    else:
        remedy = (
            "Press *Re-authorize* to repair it in place: the same OAuth client gets a new "
            "token and "
            + (f"the {used} stay linked." if used else "everything linked stays linked.")
            + " If that does not help, *Rotate* gives the same client a new consumer key and "
            "secret. *Reconnect* sets up a new client instead (what uses this one must then be "
            "moved)."
        )
    elements = remedy_buttons(connection)
    text = (
        f":rotating_light: *The Bitbucket connection of {org} is broken* (#{connection.id}, "
        f"owner <@{connection.owner_id}>, {ownership(connection)}).\n"
        f"{fit_escaped(connection.health_note or 'Terraform no longer holds its token.', 1500)}\n"
        + (f"*{used}* use it. " if used else "")
        + "Terraform runs that need Bitbucket will fail until it is fixed. "
        + remedy
    )
    return f"The Bitbucket connection of {org} is broken", [
        section(text).to_dict(),
        ActionsBlock(block_id="broken", elements=elements).to_dict(),
    ]


def healed_message(connection: Connection) -> tuple[str, list[dict[str, Any]]]:
    org = escape(connection.organization)
    used = linked(connection)
    text = (
        f":white_check_mark: The Bitbucket connection of *{org}* works again (#{connection.id}): "
        f"Terraform holds an OAuth token for client {code(connection.oauth_client_id or '')}."
        + (f" {used[0].upper()}{used[1:]} can reach Bitbucket again." if used else "")
    )
    return f"The Bitbucket connection of {org} works again", [section(text).to_dict()]


def owner_left_message(connection: Connection) -> tuple[str, list[dict[str, Any]]]:
    """For the channel and the approvers: the connection rests on someone who has left."""
    org = escape(connection.organization)
    text = (
        f":warning: The Bitbucket connection of *{org}* (#{connection.id}) depends on "
        f"<@{connection.owner_id}>'s own Bitbucket account, and they are no longer a member of "
        "this Slack workspace. It stops working when their Bitbucket access goes"
        + (f", and with it {linked(connection)}" if linked(connection) else "")
        + ". An approver can press *Re-authorize* and name who re-authorizes it with a shared "
        "service account: the same OAuth client, so everything linked stays linked."
    )
    return f"The Bitbucket connection of {org} depends on someone who left", [
        section(text).to_dict(),
        ActionsBlock(
            block_id="owner_left",
            elements=[
                reauthorize_button(connection),
                button(
                    "Reconnect with a service account",
                    ids.RECONNECT_SERVICE,
                    value=str(connection.id),
                ),
            ],
        ).to_dict(),
    ]
