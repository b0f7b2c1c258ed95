"""Rotating the consumer's key and secret: the modals, the approvers' cards, the decision."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, InputBlock, PlainTextInputElement

from bot.connections.model import Connection
from bot.connections.pages import PERMISSIONS, ConsumerValues
from bot.connections.upkeep import RotationStage
from bot.slack import ids
from bot.slack.blocks.kit import (
    REASON_MAX,
    button,
    errors_under,
    key_and_secret_inputs,
    modal,
    section,
)
from bot.slack.blocks.remedies import rotate_button
from bot.slack.text import code, escape, fit_escaped

TITLE = "Rotate key and secret"


def rotate_request_view(connection: Connection) -> dict[str, Any]:
    """With approvals configured: why rotate (an approver reads it)."""
    return modal(
        TITLE,
        [
            section(
                f"Rotate the consumer key and secret of *{escape(connection.organization)}*'s "
                f"Bitbucket connection (#{connection.id}). An approver decides first; then you "
                "enter the new key and secret, and the connection is re-authorized. Workspaces "
                "stay linked throughout."
            ),
            InputBlock(
                block_id=ids.ROTATE_WHY,
                label="Why rotate?",
                hint="For example: a security rotation, or the secret was exposed.",
                element=PlainTextInputElement(
                    action_id=ids.VALUE, multiline=True, max_length=REASON_MAX
                ),
            ),
        ],
        callback_id=ids.ROTATE_REQUEST_VIEW,
        submit="Ask an approver",
        close="Cancel",
        metadata={"connection": connection.id},
    )


def rotate_credentials_view(
    connection: Connection,
    values: ConsumerValues,
    *,
    key: str = "",
    errors: dict[str, str] | None = None,
    notice: str | None = None,
) -> dict[str, Any]:
    """The new Key and Secret, with how to make the consumer; the secret is never prefilled."""
    permissions = ", ".join(f"{area}: {level}" for area, level in PERMISSIONS)
    callback = connection.callback_url or values.callback_url
    body: list[Block] = []
    if notice:
        body.append(section(f":warning: {escape(notice)}"))
    body += [
        section(
            f"In Bitbucket, add a new OAuth consumer for *{escape(connection.organization)}* with "
            f"the same values as before: name {code(values.name)}, callback URL "
            f"{code(callback)} (unchanged: the OAuth client stays), URL {code(values.url)}, "
            f"*This is a private consumer* ticked, and {escape(permissions)}. Paste its Key and "
            "Secret here. I check them with Bitbucket, give them to Terraform (the secret goes "
            "nowhere else), and then ask you to re-authorize."
        ),
        *key_and_secret_inputs(key),
    ]
    return modal(
        TITLE,
        errors_under(body, errors or {}),
        callback_id=ids.ROTATE_VIEW,
        submit="Rotate",
        close="Cancel",
        metadata={"connection": connection.id},
    )


def rotate_keys_view(connection: Connection) -> dict[str, Any]:
    """Bitbucket Data Center: what rotating does, then Rotate (the bot makes the keys)."""
    return modal(
        TITLE,
        [
            section(
                f"Rotate the keys of *{escape(connection.organization)}*'s Bitbucket Data Center "
                f"connection (#{connection.id}). I make a new key pair and give Terraform its "
                "private half (it goes nowhere else). Then a Bitbucket administrator replaces "
                "the application link's public key, and the connection is re-authorized; "
                "workspaces stay linked. Until then Terraform cannot reach Bitbucket through it."
            )
        ],
        callback_id=ids.ROTATE_KEYS_VIEW,
        submit="Rotate",
        close="Cancel",
        metadata={"connection": connection.id},
    )


def rotation_card(connection: Connection, approver: str) -> tuple[str, list[dict[str, Any]]]:
    """An approver's card: who asks, why, and Approve/Deny while it waits."""
    org = escape(connection.organization)
    asked = connection.rotation_by or connection.owner_id
    text = (
        f":key: <@{asked}> asks to rotate the consumer key and secret of *{org}*'s Bitbucket "
        f"connection (#{connection.id}, OAuth client {code(connection.oauth_client_id or '')}).\n"
        f"*Why:* {fit_escaped(connection.rotation_reason or 'not said', 1500)}\n"
        "Once approved they enter a new key and secret, and the same client is re-authorized; "
        "workspaces stay linked."
    )
    body: list[dict[str, Any]] = [section(text).to_dict()]
    waiting = connection.rotation_stage == RotationStage.AWAITING_APPROVAL
    if waiting and approver != asked:
        body.append(
            ActionsBlock(
                block_id="rotation",
                elements=[
                    button("Approve", ids.APPROVE_ROTATION, value=str(connection.id), primary=True),
                    button("Deny", ids.DENY_ROTATION, value=str(connection.id)),
                ],
            ).to_dict()
        )
    elif waiting:
        body.append(section("_Your own request: another approver decides._").to_dict())
    else:
        body.append(section(rotation_outcome(connection)).to_dict())
    return f"Rotate the key and secret of {org}?", body


def replaced() -> str:
    return "_This request was replaced by a newer one._"


def rotation_outcome(connection: Connection) -> str:
    by = connection.rotation_decided_by
    if by is None:
        return replaced()
    denied = connection.rotation_stage == RotationStage.DENIED
    return f"*{'Denied' if denied else 'Approved'} by <@{by}>.*"


def rotation_decision(connection: Connection, outcome: str) -> tuple[str, list[dict[str, Any]]]:
    """Who asked hears the decision; approved comes with Enter Key and Secret."""
    org = escape(connection.organization)
    by = connection.rotation_decided_by or "an approver"
    if outcome != "approved":
        text = (
            f"<@{by}> denied rotating the key and secret of {org}'s connection "
            f"(#{connection.id}). Nothing was changed."
        )
        return f"Rotation of {org} denied", [section(text).to_dict()]
    text = (
        f":white_check_mark: <@{by}> approved rotating the key and secret of {org}'s "
        f"connection (#{connection.id}). Press *Enter Key and Secret* when the new consumer is "
        "ready."
    )
    return f"Rotation of {org} approved", [
        section(text).to_dict(),
        ActionsBlock(
            block_id="rotation_approved",
            elements=[
                button(
                    "Enter Key and Secret",
                    ids.ROTATE_ENTER,
                    value=str(connection.id),
                    primary=True,
                )
            ],
        ).to_dict(),
    ]


def rotation_due(connection: Connection, *, overdue: bool) -> tuple[str, list[dict[str, Any]]]:
    """ROTATE_EVERY: the owner hears a rotation is (nearly) due."""
    org = escape(connection.organization)
    text = (
        f":key: The consumer key and secret of *{org}*'s Bitbucket connection "
        f"(#{connection.id}) are due for rotation {'now' if overdue else 'soon'} "
        "(ROTATE_EVERY). Press *Rotate* to give Terraform a new key and secret; workspaces stay "
        "linked."
    )
    return f"Rotation due for {org}", [
        section(text).to_dict(),
        ActionsBlock(block_id="rotation_due", elements=[rotate_button(connection)]).to_dict(),
    ]
