"""Re-authorizing in place: the steps for whoever re-authorizes, the channel's "repaired",
the note when the bot stops waiting, and the modal in which an approver names someone."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    InputBlock,
    PlainTextInputElement,
    UserSelectElement,
)

from bot.connections.model import AccountKind, Connection
from bot.connections.pages import ApplicationLink
from bot.connections.upkeep import RepairReason
from bot.connections.validation import BITBUCKET_NAME_MAX
from bot.slack import ids
from bot.slack.blocks.describe import linked
from bot.slack.blocks.kit import button, modal, section
from bot.slack.blocks.remedies import reauthorize_button, reconnect_button
from bot.slack.text import code, escape, fit_escaped


def _new_link_key(connection: Connection, link: ApplicationLink | None) -> str:
    """Data Center after a rotation: the application link needs the new public key first."""
    if link is None or not connection.data_center:
        return ""
    if connection.repair_reason != RepairReason.ROTATED:
        return ""
    return (
        "*First, a Bitbucket administrator replaces the application link's public key* "
        f"(the link to {code(link.application_url)}, Consumer Key {code(link.consumer_key)}): "
        "Administration → *Application Links* → the link's *Edit* → *Incoming "
        "Authentication* → *Public Key*, paste this and save:\n"
        f"```{escape(link.public_key.strip())}```\n"
        "Until then Terraform's authorization fails. Then:\n"
    )


def repair_steps(
    connection: Connection,
    *,
    providers: str,
    authorize: str | None,
    link: ApplicationLink | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """For whoever was asked: how to re-authorize the same client, as which account (for
    Data Center after a rotation, the application link's new public key first)."""
    org = escape(connection.organization)
    client = code(connection.oauth_client_id or "")
    account = connection.repair_username
    login = (
        f"Log in to Bitbucket as the service account {code(account)} (log out first, or use a "
        "private window)."
        if account
        else "Log in to Bitbucket with the account that should own the connection."
    )
    used = linked(connection)
    kept = f" Everything linked stays linked ({used})." if used else ""
    text = (
        f":wrench: *Re-authorize the Bitbucket connection of {org}* (#{connection.id}). "
        f"This repairs it in place: same OAuth client {client}, no new connection.{kept}\n"
        f"{_new_link_key(connection, link)}"
        f"1. {login}\n"
        f"2. Press *Open VCS providers* below, find the {connection.which_bitbucket.words} "
        f"client {client} and "
        "press its *Reauthorize* (or *Connect*) button; or press *Authorize* below, which does "
        "the same for this client.\n"
        "3. Grant access in Bitbucket.\n"
        "I watch Terraform for the new token and tell the channel as soon as it is there."
    )
    buttons = [
        button(
            "Open VCS providers",
            ids.OPEN_VCS_PROVIDERS,
            url=providers,
            value=str(connection.id),
            primary=True,
        )
    ]
    if authorize:
        buttons.append(
            button("Authorize", ids.REPAIR_AUTHORIZE, url=authorize, value=str(connection.id))
        )
    if _new_link_key(connection, link) and link is not None:
        buttons.insert(
            0,
            button("Open Bitbucket: Application Links", ids.OPEN_APPLICATION_LINKS, url=link.page),
        )
    return f"Re-authorize the Bitbucket connection of {org}", [
        section(text).to_dict(),
        ActionsBlock(block_id="repair", elements=buttons).to_dict(),
    ]


def repaired_message(connection: Connection, old_token: str) -> tuple[str, list[dict[str, Any]]]:
    """For the channel: repaired in place, and what stayed linked."""
    org = escape(connection.organization)
    used = linked(connection)
    kept = f"; {used} kept" if used else ""
    who = connection.authorized_as
    as_whom = f" as Bitbucket user {code(who)}" if who else ""
    token = (
        f" Terraform issued a new token ({code(connection.oauth_token_id or '')} replaces "
        f"{code(old_token)})."
        if old_token and old_token != connection.oauth_token_id
        else ""
    )
    text = (
        f":white_check_mark: *The Bitbucket connection of {org} is repaired{kept}* "
        f"(#{connection.id}): <@{connection.owner_id}> re-authorized the same OAuth client "
        f"{code(connection.oauth_client_id or '')}{as_whom}.{token}"
    )
    return f"The Bitbucket connection of {org} is repaired{kept}", [section(text).to_dict()]


def repair_stopped(connection: Connection, why: str) -> tuple[str, list[dict[str, Any]]]:
    """For whoever was asked: the bot no longer waits for their re-authorization."""
    org = escape(connection.organization)
    text = (
        f"I stopped waiting for the re-authorization of {org}'s connection (#{connection.id}): "
        f"{fit_escaped(why, 500)}."
    )
    buttons = (
        [reconnect_button(connection)]
        if connection.client_gone
        else [reauthorize_button(connection)]
    )
    return f"Stopped waiting for the re-authorization of {org}", [
        section(text).to_dict(),
        ActionsBlock(block_id="repair_stopped", elements=buttons).to_dict(),
    ]


def repairer_view(connection: Connection, *, suggested: str) -> dict[str, Any]:
    """An approver names who re-authorizes, and as which Bitbucket account."""
    username = (
        connection.bitbucket_username
        if connection.account_kind == AccountKind.SERVICE_ACCOUNT
        else None
    )
    body: list[Block] = [
        section(
            f"Who re-authorizes the Bitbucket connection of *{escape(connection.organization)}* "
            f"(#{connection.id})? They get the steps in a DM, and once Terraform holds the new "
            "token they own the connection."
        ),
        InputBlock(
            block_id=ids.REPAIRER,
            label="Who re-authorizes",
            hint="Normally whoever keeps the service account's login.",
            element=UserSelectElement(action_id=ids.VALUE, initial_user=suggested),
        ),
        InputBlock(
            block_id=ids.REPAIR_USERNAME,
            label="Service account (Bitbucket username)",
            hint="Leave empty if they re-authorize with their own Bitbucket account.",
            optional=True,
            element=PlainTextInputElement(
                action_id=ids.VALUE, initial_value=username or None, max_length=BITBUCKET_NAME_MAX
            ),
        ),
    ]
    return modal(
        "Re-authorize",
        body,
        callback_id=ids.REPAIR_VIEW,
        submit="Send the steps",
        close="Cancel",
        metadata={"connection": connection.id},
    )
