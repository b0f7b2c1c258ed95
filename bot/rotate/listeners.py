"""Rotate: `/connect-bitbucket rotate <org or #id>`, the Rotate button, the approvers'
Approve and Deny, and the new key and secret. Who may: the connection's owner or an approver;
where APPROVERS is set, another approver approves first, as for a new connection."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.connections.model import Connection
from bot.connections.service import ConnectionNotFound
from bot.connections.upkeep import CannotRepair, RotationStage
from bot.deps import SlackDeps
from bot.problems import Problem
from bot.redaction import REDACTOR
from bot.rotate import blocks as rotate_blocks
from bot.rotate.store import check_rotatable
from bot.slack import forms, ids
from bot.slack.blocks.kit import REASON_MAX, message_view
from bot.slack.modals import TRIGGER_FAILED, OpenModal, submitted_connection
from bot.slack.preludes import (
    action_of,
    channel_of,
    on_connection_button,
    on_connection_modal,
)
from bot.slack.text import escape

log = logging.getLogger(__name__)

TITLE = rotate_blocks.TITLE
USAGE = (
    "Say which connection to rotate: `/connect-bitbucket rotate acme-infra` or "
    "`/connect-bitbucket rotate #12`."
)


def refusal_to_rotate(deps: SlackDeps, connection: Connection, user: str) -> str | None:
    """Why `user` may not rotate this connection, or None (the rule is Access's)."""
    return deps.access.refusal_to_rotate(user, connection.owner_id, connection.id)


def find(deps: SlackDeps, which: str, user: str) -> Connection | None:
    """`12`, `#12` or an organization's name, as the caller may see it; None: not found."""
    which = which.strip().lstrip("#")
    if not which:
        return None
    try:
        connection = (
            deps.service.get(int(which))
            if which.isdigit() and len(which) <= 9
            else deps.service.settled_for_organization(which[:255])
        )
    except ConnectionNotFound:
        return None
    if connection is None or not deps.access.may_see(user, connection.owner_id):
        return None
    return connection


def open_rotation(
    deps: SlackDeps,
    client: WebClient,
    connection: Connection,
    user: str,
    trigger: str,
    channel: str | None,
) -> None:
    """The right modal for where the rotation stands: why (to ask an approver), or the new
    key and secret."""
    refusal = refusal_to_rotate(deps, connection, user)
    if refusal is None:
        try:
            check_rotatable(connection)
        except CannotRepair as problem:
            refusal = problem.message
    if refusal is not None:
        if user != connection.owner_id:
            deps.service.record(connection.id, user, "refused: tried to rotate")
        deps.notifier.tell_user(channel, user, refusal)
        return
    approved = (
        connection.rotation_stage == RotationStage.AWAITING_CREDENTIALS
        and connection.rotation_by == user
    )
    if deps.access.needs_approval and not approved:
        view = rotate_blocks.rotate_request_view(connection)
    elif connection.data_center:
        view = rotate_blocks.rotate_keys_view(connection)
    else:
        view = rotate_blocks.rotate_credentials_view(
            connection, deps.pages.consumer_values(connection)
        )
    try:
        client.views_open(trigger_id=trigger, view=view)
    except SlackApiError:
        deps.notifier.tell_user(channel, user, TRIGGER_FAILED)


def on_command(deps: SlackDeps, client: WebClient, body: dict[str, Any], which: str) -> None:
    """`/connect-bitbucket rotate <which>` (after the ack, on the urgent pool)."""
    user, channel = body.get("user_id", ""), body.get("channel_id")
    if not which.strip():
        deps.notifier.tell_user(channel, user, USAGE)
        return
    connection = find(deps, which, user)
    if connection is None:
        deps.notifier.tell_user(
            channel, user, f"No connected organization or connection is called {which[:100]}."
        )
        return
    open_rotation(deps, client, connection, user, body["trigger_id"], channel)


def _rotate_clicked(
    deps: SlackDeps, connection: Connection, body: dict[str, Any], client: WebClient
) -> None:
    user = body["user"]["id"]
    if not deps.access.may_see(user, connection.owner_id):
        deps.notifier.tell_user(channel_of(body), user, "That connection no longer exists.")
        return
    open_rotation(deps, client, connection, user, body["trigger_id"], channel_of(body))


def on_rotate(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    ack()
    on_connection_button(deps, body, client, "opening the rotation", _rotate_clicked, urgent=True)


# Approval.


def on_request(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    """Why rotate: recorded, and the approvers get their cards."""
    reason = str(forms.value(body, ids.ROTATE_WHY).get("value") or "").strip()[:REASON_MAX]
    if not reason:
        ack(response_action="errors", errors={ids.ROTATE_WHY: "Say why, in a sentence."})
        return
    on_connection_modal(
        ack,
        body,
        client,
        deps,
        title=TITLE,
        busy="Asking the approvers…",
        what="asking to rotate",
        step=partial(_ask, deps, body, reason),
        again="press Rotate again.",
    )


def _may_rotate(
    deps: SlackDeps, body: dict[str, Any], connection_id: int, modal: OpenModal
) -> Connection | None:
    """A rotation form's connection, once per submission, if its sender may rotate it (a
    refusal is recorded and shown in the modal)."""
    connection = submitted_connection(deps, body, connection_id, modal, TITLE)
    if connection is None:
        return None
    user = body["user"]["id"]
    refusal = refusal_to_rotate(deps, connection, user)
    if refusal is not None:
        deps.service.record(connection.id, user, "refused: tried to rotate")
        modal.show(message_view(TITLE, refusal))
        return None
    return connection


def _ask(
    deps: SlackDeps, body: dict[str, Any], reason: str, modal: OpenModal, connection_id: int
) -> None:
    connection = _may_rotate(deps, body, connection_id, modal)
    if connection is None:
        return
    user = body["user"]["id"]
    try:
        deps.rotations.ask_rotation(connection_id, by=user, reason=reason, needs_approval=True)
    except CannotRepair as problem:
        modal.show(message_view(TITLE, problem.message))
        return
    deps.courier.deliver(connection_id)
    modal.show(
        message_view(
            TITLE,
            "I asked the approvers. Once one approves, you get a button to enter the new key "
            "and secret.",
        )
    )


def _decide(
    deps: SlackDeps, connection: Connection, body: dict[str, Any], client: WebClient
) -> None:
    user, channel = body["user"]["id"], channel_of(body)
    approve = action_of(body).get("action_id") == ids.APPROVE_ROTATION
    if not deps.access.is_approver(user):
        deps.service.record(
            connection.id, user, "refused: not an approver tried to decide a rotation"
        )
        deps.notifier.tell_user(channel, user, "Only the approvers set for this bot can decide.")
        return
    if user == connection.rotation_by:
        deps.notifier.tell_user(
            channel, user, "That is your own request: another approver decides."
        )
        return
    connection, decided = deps.rotations.decide_rotation(connection.id, user, approve=approve)
    if not decided:
        deps.notifier.tell_user(
            channel, user, f"The rotation of connection #{connection.id} was decided already."
        )
        return
    deps.courier.deliver(connection.id)
    verb = "approved" if approve else "denied"
    deps.notifier.tell_user(
        channel,
        user,
        f"You {verb} rotating connection #{connection.id}; "
        f"<@{connection.rotation_by}> has been told.",
    )


def on_decision(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    ack()
    on_connection_button(deps, body, client, "deciding a rotation", _decide)


def _enter(
    deps: SlackDeps, connection: Connection, body: dict[str, Any], client: WebClient
) -> None:
    user, channel = body["user"]["id"], channel_of(body)
    if (
        connection.rotation_by != user
        or connection.rotation_stage != RotationStage.AWAITING_CREDENTIALS
    ):
        deps.notifier.tell_user(
            channel,
            user,
            f"Connection #{connection.id} is not waiting for your new key and secret.",
        )
        return
    open_rotation(deps, client, connection, user, body["trigger_id"], channel)


def on_enter(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    ack()
    on_connection_button(deps, body, client, "opening the key and secret form", _enter, urgent=True)


# The new key and secret.


def on_credentials(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    typed = forms.read_key_and_secret(body)
    if not isinstance(typed, forms.KeyAndSecret):
        ack(response_action="errors", errors=typed)
        return
    on_connection_modal(
        ack,
        body,
        client,
        deps,
        title=TITLE,
        busy="Checking the consumer with Bitbucket, then giving Terraform the new key and secret…",
        what="rotating the key and secret",
        step=partial(_rotate, deps, body, typed.key, typed.secret),
        again="nothing was changed. Press Rotate again.",
    )


def _rotate(
    deps: SlackDeps,
    body: dict[str, Any],
    key: str,
    secret: str,
    modal: OpenModal,
    connection_id: int,
) -> None:
    with REDACTOR.holding(secret, key=key):
        try:
            _rotate_held(deps, body, connection_id, key, secret, modal)
        except Exception as error:
            raise RuntimeError(REDACTOR.scrub(f"{type(error).__name__}: {error}")) from None


def _rotate_held(
    deps: SlackDeps,
    body: dict[str, Any],
    connection_id: int,
    key: str,
    secret: str,
    modal: OpenModal,
) -> None:
    connection = _may_rotate(deps, body, connection_id, modal)
    if connection is None:
        return
    user = body["user"]["id"]
    try:
        _, report = deps.rotate.rotate(
            connection_id,
            key=key,
            secret=secret,
            actor=user,
            needs_approval=deps.access.needs_approval,
        )
    except CannotRepair as problem:
        deps.service.record(connection.id, user, f"refused a rotation: {problem.message}")
        modal.show(message_view(TITLE, problem.message))
        return
    except Problem as problem:
        again = "Enter the secret again to retry."
        values = deps.pages.consumer_values(connection)
        view = (
            rotate_blocks.rotate_credentials_view(
                connection, values, key=key, errors={problem.field: problem.message}, notice=again
            )
            if problem.field in (ids.KEY, ids.SECRET)
            else rotate_blocks.rotate_credentials_view(
                connection, values, key=key, notice=f"{problem.message} {again}"
            )
        )
        modal.show(view)
        return
    deps.courier.deliver(connection_id)  # the re-authorize steps
    # What Bitbucket's check noticed but did not block on (the account cannot see the
    # workspace's repositories, say) is worth knowing before re-authorizing.
    noticed = "".join(f"\n:warning: {escape(w)}" for w in report.warnings)
    modal.show(
        message_view(
            TITLE,
            "Terraform has the new key and secret. One step left: re-authorize the connection "
            "(tokens of the old consumer stop working). I sent you the steps in a DM." + noticed,
        )
    )


def on_rotate_keys(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    """Bitbucket Data Center: Rotate pressed in the modal; the bot makes the new keys."""
    on_connection_modal(
        ack,
        body,
        client,
        deps,
        title=TITLE,
        busy="Making a new key pair and giving Terraform its private half…",
        what="rotating the keys",
        step=partial(_rotate_keys, deps, body),
        again="nothing was changed. Press Rotate again.",
    )


def _rotate_keys(
    deps: SlackDeps, body: dict[str, Any], modal: OpenModal, connection_id: int
) -> None:
    connection = _may_rotate(deps, body, connection_id, modal)
    if connection is None:
        return
    user = body["user"]["id"]
    if not connection.data_center:
        modal.show(message_view(TITLE, "This connection rotates with a new key and secret."))
        return
    try:
        deps.rotate.rotate_link_keys(
            connection_id, actor=user, needs_approval=deps.access.needs_approval
        )
    except CannotRepair as problem:
        deps.service.record(connection.id, user, f"refused a rotation: {problem.message}")
        modal.show(message_view(TITLE, problem.message))
        return
    except Problem as problem:
        modal.show(message_view(TITLE, f"{problem.message} Press Rotate again to retry."))
        return
    deps.courier.deliver(connection_id)  # the steps: the link's new public key, then Authorize
    modal.show(
        message_view(
            TITLE,
            "Terraform has the new keys. Two steps left, both in your DMs: a Bitbucket "
            "administrator replaces the application link's public key, then you re-authorize.",
        )
    )


def register(app: App) -> None:
    app.action(ids.ROTATE)(on_rotate)
    app.action(ids.ROTATE_ENTER)(on_enter)
    app.action(ids.APPROVE_ROTATION)(on_decision)
    app.action(ids.DENY_ROTATION)(on_decision)
    app.view(ids.ROTATE_REQUEST_VIEW)(on_request)
    app.view(ids.ROTATE_VIEW)(on_credentials)
    app.view(ids.ROTATE_KEYS_VIEW)(on_rotate_keys)
