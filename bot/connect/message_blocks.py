"""Direct messages and channel notices: authorize, hints, reminders, escalation, endings."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
)

from bot.connections.model import AccountKind, Connection
from bot.slack import ids
from bot.slack.blocks.describe import linked, ownership
from bot.slack.blocks.kit import button, section, step_number
from bot.slack.blocks.remedies import reauthorize_button
from bot.slack.text import code, escape


def authorize_message(connection: Connection, link: str) -> tuple[str, list[dict[str, Any]]]:
    """The owner's private message with the Authorize button."""
    account = (
        f"the service account {code(connection.bitbucket_username)}"
        if connection.bitbucket_username
        else "your own Bitbucket account"
        if connection.account_kind == AccountKind.PERSONAL
        else "the service account"
    )
    blocks: list[Block] = [
        section(
            f"*Step {step_number(connection, 'authorize')}: authorize Terraform for "
            f"{escape(connection.organization)}* (connection "
            f"#{connection.id}).\n"
            f"1. Log in to Bitbucket as {account} (log out of any other Bitbucket account first).\n"
            "2. Log in to Terraform.\n"
            "3. Press *Authorize*, then *Grant access* on Bitbucket's page.\n"
            "This link is for you alone; I'll tell the channel when Terraform has the token."
        ),
        ActionsBlock(
            block_id="authorize",
            elements=[
                button("Authorize", ids.AUTHORIZE, url=link, value=str(connection.id), primary=True)
            ],
        ),
    ]
    return f"Authorize Terraform for {escape(connection.organization)}", [
        b.to_dict() for b in blocks
    ]


def authorize_hint(connection: Connection, link: str | None) -> tuple[str, list[dict[str, Any]]]:
    """The owner's DM when Authorize was opened but no token arrived: likely causes, in order."""
    account = (
        f"the service account {code(connection.bitbucket_username)}"
        if connection.bitbucket_username
        else "the Bitbucket account that owns the connection"
    )
    text = (
        f"*Terraform has no token yet for {escape(connection.organization)}* (connection "
        f"#{connection.id}). The likely causes, most likely first:\n"
        "1. *The consumer's callback URL is not exactly Terraform's.* In Bitbucket, edit the "
        "consumer and check that its Callback URL is exactly:\n"
        f"```{escape(connection.callback_url or '')}```\n"
        f"2. *You authorized with the wrong Bitbucket account.* Log out of Bitbucket, log in as "
        f"{account}, and press Authorize again.\n"
        "3. *You were not logged in to Terraform* (or not as a member of the organization). "
        "Log in to Terraform, then press Authorize again.\n"
        "I keep watching; I'll tell the channel as soon as Terraform has the token."
    )
    elements = (
        [button("Authorize", ids.AUTHORIZE, url=link, value=str(connection.id), primary=True)]
        if link
        else []
    )
    body: list[Block] = [section(text)]
    if elements:
        body.append(ActionsBlock(block_id="authorize_hint", elements=elements))
    return (
        f"No token yet for {escape(connection.organization)}: check the callback URL",
        [b.to_dict() for b in body],
    )


def connected_announcement(connection: Connection) -> tuple[str, list[dict[str, Any]]]:
    """The short message the channel gets when the connection is complete."""
    text = (
        f":white_check_mark: {connection.which_bitbucket.words} is connected to Terraform "
        f"organization *{escape(connection.organization)}*. "
        f"OAuth client {code(connection.oauth_client_id or '')}"
        f" · owner <@{connection.owner_id}> · {ownership(connection)}"
    )
    if connection.wrong_account:
        text += (
            f"\n:warning: It was authorized as Bitbucket user "
            f"{code(connection.authorized_as or '')}, not the service account "
            f"{code(connection.bitbucket_username or '')}: the connection is tied to that "
            f"person's account and stops working if they lose access. <@{connection.owner_id}> "
            "can press *Re-authorize* to fix it."
        )
    used = linked(connection)
    text += (
        f"\nUsed by {used}."
        if used
        else f"\nWhat uses it in Terraform is counted with its first health check: "
        f"`/connect-bitbucket status {connection.id}` lists it."
    )
    return (
        f"{connection.which_bitbucket.words} is connected to {escape(connection.organization)}",
        [section(text).to_dict()],
    )


def wrong_account_message(connection: Connection) -> tuple[str, list[dict[str, Any]]]:
    """The owner's DM: authorized as the wrong Bitbucket account, and Re-authorize."""
    org = escape(connection.organization)
    text = (
        f":warning: The connection of *{org}* (#{connection.id}) was authorized as Bitbucket "
        f"user {code(connection.authorized_as or '')}, not the service account "
        f"{code(connection.bitbucket_username or '')}, so it rests on that person's access. "
        "Press *Re-authorize* for the steps to authorize the same OAuth client again as the "
        "service account; everything linked stays linked."
    )
    body: list[Block] = [
        section(text),
        ActionsBlock(
            block_id="wrong_account",
            elements=[reauthorize_button(connection)],
        ),
    ]
    return f"Connection of {org}: authorized as the wrong Bitbucket account", [
        b.to_dict() for b in body
    ]


# Keeping after stalled connections.
