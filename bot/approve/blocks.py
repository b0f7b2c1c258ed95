"""Approvals: the approver's card, the Approve and Deny modals, and what the requester hears."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    InputBlock,
    PlainTextInputElement,
)

from bot.connections.model import AccountKind, Connection
from bot.connections.states import State
from bot.slack import ids
from bot.slack.blocks.describe import decision_line, when
from bot.slack.blocks.kit import COMMENT_MAX, REASON_MAX, button, context_block, modal, section
from bot.slack.text import code, escape, fit_escaped


def _request_lines(connection: Connection) -> str:
    if connection.account_kind == AccountKind.SERVICE_ACCOUNT:
        account = "shared service account"
        if connection.bitbucket_username:
            account += " " + code(connection.bitbucket_username)
    else:
        account = ":warning: *a personal Bitbucket account* (the requester's own; it stops "
        account += "working if they leave)"
    existing = (
        "yes: it already has a Bitbucket Cloud connection, and the requester chose to add another"
        if connection.duplicates_acknowledged
        else "none"
    )
    workspace = (
        code(connection.bitbucket_workspace) if connection.bitbucket_workspace else "not given"
    )
    where = (
        f"*Bitbucket Data Center:* {code(connection.data_center_url or '')} (version "
        f"{escape(connection.data_center_version or 'unknown')})\n"
        if connection.data_center
        else f"*Bitbucket workspace:* {workspace}\n"
    )
    return (
        f"*Organization:* {escape(connection.organization)}\n"
        f"*Requested by:* <@{connection.owner_id}>\n"
        f"*Owning account:* {account}\n"
        f"{where}"
        f"*Existing Bitbucket Cloud clients:* {existing}\n"
        f"*Why:* {fit_escaped(connection.reason or 'not given', REASON_MAX + 100)}"
    )


def approval_card(connection: Connection, approver: str) -> tuple[str, list[dict[str, Any]]]:
    """An approver's DM card: the request, and Approve/Deny while it waits (not on one's own)."""
    org = escape(connection.organization)
    blocks: list[Block] = [
        section(
            f":raised_hand: *Approval needed:* connect {connection.which_bitbucket.words} to "
            f"*{org}* "
            f"(connection #{connection.id})."
        ),
        section(_request_lines(connection)),
    ]
    if connection.state == State.AWAITING_APPROVAL:
        if approver == connection.owner_id:
            blocks.append(context_block("This is your own request: another approver decides."))
        else:
            blocks.append(
                ActionsBlock(
                    block_id="decide",
                    elements=[
                        button("Approve", ids.APPROVE, value=str(connection.id), primary=True),
                        _deny_button(connection),
                    ],
                )
            )
    else:
        blocks.append(section(decision_line(connection)))
    return f"Approval needed: {connection.which_bitbucket.words} for {org}", [
        b.to_dict() for b in blocks
    ]


def _deny_button(connection: Connection) -> Any:
    deny = button("Deny", ids.DENY, value=str(connection.id))
    deny.style = "danger"
    return deny


def approve_view(connection: Connection) -> dict[str, Any]:
    """Approve: an optional comment for the requester."""
    return modal(
        "Approve connection",
        [
            section(_request_lines(connection)),
            InputBlock(
                block_id=ids.COMMENT,
                label="Comment (optional)",
                optional=True,
                element=PlainTextInputElement(
                    action_id=ids.VALUE, multiline=True, max_length=COMMENT_MAX
                ),
            ),
        ],
        callback_id=ids.APPROVE_VIEW,
        submit="Approve",
        close="Cancel",
        metadata={"connection": connection.id},
    )


def deny_view(connection: Connection) -> dict[str, Any]:
    """Deny: a required reason, which the requester reads."""
    return modal(
        "Deny connection",
        [
            section(_request_lines(connection)),
            InputBlock(
                block_id=ids.DENY_REASON,
                label="Why are you denying it?",
                hint="The requester reads this.",
                element=PlainTextInputElement(
                    action_id=ids.VALUE, multiline=True, max_length=COMMENT_MAX
                ),
            ),
        ],
        callback_id=ids.DENY_VIEW,
        submit="Deny",
        close="Cancel",
        metadata={"connection": connection.id},
    )


def decision_message(connection: Connection) -> tuple[str, list[dict[str, Any]]]:
    """The requester's DM once an approver decided."""
    org = escape(connection.organization)
    if connection.state == State.DENIED:
        text = (
            f":no_entry: Your request to connect {connection.which_bitbucket.words} to *{org}* "
            f"(#{connection.id}) "
            f"was denied.\n{decision_line(connection)}"
        )
        return f"Your Bitbucket connection for {org} was denied", [section(text).to_dict()]
    following = (
        "The bot makes the keys and the OAuth client now; then a Bitbucket administrator "
        "creates the application link with the values in its progress message."
        if connection.data_center
        else "Continue with step 1 in its progress message: create the OAuth consumer, then "
        "press *Enter Key and Secret*."
    )
    text = (
        f":white_check_mark: Your request to connect {connection.which_bitbucket.words} to "
        f"*{org}* (#{connection.id}) was approved.\n{decision_line(connection)}\n{following}"
    )
    return f"Your Bitbucket connection for {org} was approved", [section(text).to_dict()]


def approver_reminder(
    connection: Connection, approver: str, *, number: int, expires: datetime
) -> tuple[str, list[dict[str, Any]]]:
    """An approver's reminder that a request still waits, with the buttons again."""
    org = escape(connection.organization)
    text, card = approval_card(connection, approver)
    head = section(
        f":bell: A request to connect {connection.which_bitbucket.words} to *{org}* "
        f"(#{connection.id}) has waited "
        f"for a decision since {when(connection.progressed_at)}. Reminder {number}; it expires "
        f"{when(expires)}."
    ).to_dict()
    return f"Reminder: {text}", [head, *card[1:]]


def earlier_card(connection: Connection, approver: str) -> tuple[str, list[dict[str, Any]]]:
    """A card a reminder replaced: the request as it was, its buttons now on the reminder."""
    text, card = approval_card(connection, approver)
    kept = [block for block in card if block.get("type") != "actions"]
    note = context_block("Reminded below: decide on the newest message about it.").to_dict()
    return text, [*kept, note]


def sole_approver_note(connection: Connection) -> str:
    return (
        f"You are the only approver (APPROVERS), and nobody approves their own request, so "
        f"connection #{connection.id} for {connection.organization} cannot be approved as things "
        "stand. Ask whoever runs the bot to add another approver, or cancel it."
    )
