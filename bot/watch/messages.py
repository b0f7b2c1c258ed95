"""What the health watch owes Slack beyond the broken and healed notices: the owner hears
once when the token works but its account sees no repository."""

from __future__ import annotations

from slack_sdk.models.blocks import ActionsBlock

from bot.connections.model import Connection, HealthOutcome
from bot.connections.outbox import Owed
from bot.slack.blocks.kit import section
from bot.slack.blocks.remedies import reauthorize_button
from bot.slack.courier import Send
from bot.slack.notify import Notifier
from bot.slack.text import code, escape


def tell_sees_nothing(notifier: Notifier, connection: Connection, _detail: str) -> None:
    """The owner: Terraform can use the token, but through it sees no repository."""
    if connection.health_outcome != HealthOutcome.SEES_NOTHING:
        return  # it sees repositories again, or broke, before this went out
    who = code(connection.authorized_as) if connection.authorized_as else "the account"
    text = (
        f":warning: Terraform can use the token of *{escape(connection.organization)}*'s "
        f"connection (#{connection.id}), but {who} that authorized it sees no repository in "
        "Bitbucket, so workspaces cannot be linked to any. Press *Re-authorize* and authorize "
        "as an account with access to the team's repositories (admin, for webhooks)."
    )
    blocks = [
        section(text).to_dict(),
        ActionsBlock(block_id="sees_nothing", elements=[reauthorize_button(connection)]).to_dict(),
    ]
    notifier.client.chat_postMessage(
        channel=notifier.owner_dm(connection),
        text=f"The connection of {escape(connection.organization)} sees no repository",
        blocks=blocks,
    )


def sends(notifier: Notifier) -> dict[Owed, Send]:
    """What the health watch owes, for the courier."""
    return {
        Owed.SEES_NOTHING: lambda connection, detail: tell_sees_nothing(
            notifier, connection, detail
        )
    }
