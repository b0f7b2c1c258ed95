"""Re-authorize: the button on broken, owner-left and wrong-account notices and in status,
and the modal in which an approver names who re-authorizes. The server decides who may:
the owner, whoever was named, or an approver (who names someone)."""

from __future__ import annotations

from functools import partial
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.connections import validation
from bot.connections.model import AccountKind, Connection
from bot.connections.service import ConnectionNotFound
from bot.connections.upkeep import CannotRepair
from bot.deps import SlackDeps
from bot.repair import blocks as repair_blocks
from bot.repair.store import reason_for
from bot.slack import forms, ids
from bot.slack.blocks.kit import message_view
from bot.slack.directory import USER_ID
from bot.slack.modals import TRIGGER_FAILED, OpenModal, submitted_connection
from bot.slack.preludes import (
    action_of,
    channel_of,
    on_connection_button,
    on_connection_modal,
)

TITLE = "Re-authorize"


def reauthorize(
    deps: SlackDeps, connection: Connection, body: dict[str, Any], client: WebClient
) -> None:
    """Re-authorize pressed: the owner (or whoever was named) gets the steps; an approver
    names someone; anyone else is told who can."""
    user, channel = body["user"]["id"], channel_of(body)
    if user in (connection.owner_id, connection.repair_by) and (
        deps.directory.full_member(user) is not True
    ):
        deps.service.record(connection.id, user, "refused: not a full member tried to re-authorize")
        deps.notifier.tell_user(
            channel,
            user,
            "Only full members of this workspace can look after a connection; an approver can "
            "press Re-authorize and name someone.",
        )
        return
    if user in (connection.owner_id, connection.repair_by):
        asked_again = user == connection.repair_by and connection.repairing
        username = (
            connection.repair_username
            if asked_again
            else connection.bitbucket_username
            if connection.account_kind == AccountKind.SERVICE_ACCOUNT
            else None
        )
        said = start(deps, connection, by=user, actor=user, username=username)
        deps.notifier.tell_user(channel, user, said)
        return
    if not deps.access.may_name_repairer(user):
        deps.service.record(connection.id, user, "refused: tried to re-authorize")
        deps.notifier.tell_user(
            channel,
            user,
            f"Only <@{connection.owner_id}>, who owns connection #{connection.id}, or an "
            "approver can re-authorize it."
            if deps.access.needs_approval
            else f"Only <@{connection.owner_id}>, who owns connection #{connection.id}, can "
            "re-authorize it.",
        )
        return
    owner_here = deps.directory.full_member(connection.owner_id)
    view = repair_blocks.repairer_view(
        connection, suggested=connection.owner_id if owner_here else user
    )
    try:
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError:
        deps.notifier.tell_user(channel, user, TRIGGER_FAILED)


def start(
    deps: SlackDeps, connection: Connection, *, by: str, actor: str, username: str | None
) -> str:
    """Ask `by` to re-authorize and send them the steps; returns what the clicker is told."""
    owner_left = deps.directory.full_member(connection.owner_id) is False
    try:
        deps.repairs.start_repair(
            connection.id,
            by=by,
            actor=actor,
            reason=reason_for(connection, owner_left=owner_left),
            username=username,
        )
    except CannotRepair as problem:
        return problem.message
    deps.courier.deliver(connection.id)
    whom = "you" if by == actor else f"<@{by}>"
    return (
        f"I sent {whom} the steps to re-authorize connection #{connection.id} "
        f"({connection.organization}) in a DM, and I'm watching Terraform for the new token."
    )


def on_reauthorize(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    ack()
    on_connection_button(
        deps, body, client, "starting the re-authorization", reauthorize, urgent=True
    )


def on_repair_link(ack: Ack, body: dict[str, Any], deps: SlackDeps) -> None:
    """A link of the steps was opened: look for the new token closely from now."""
    ack()
    connection_id = forms.connection_id(action_of(body).get("value"))
    if connection_id is None:
        return
    deps.work.submit(
        "noting the re-authorize click",
        partial(_link_opened, deps, connection_id, body["user"]["id"]),
    )


def _link_opened(deps: SlackDeps, connection_id: int, user: str) -> None:
    try:
        deps.repairs.repair_link_opened(connection_id, user)
    except ConnectionNotFound:
        return


def on_repairer_named(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    """The approver's modal: check the username now, the rest after the ack."""
    raw = str(forms.value(body, ids.REPAIR_USERNAME).get("value") or "").strip()
    username: str | None = None
    if raw:
        checked = validation.bitbucket_username(raw)
        if isinstance(checked, validation.Invalid):
            ack(response_action="errors", errors={ids.REPAIR_USERNAME: checked.message})
            return
        username = checked.value
    named = forms.value(body, ids.REPAIRER).get("selected_user")
    if not isinstance(named, str) or not USER_ID.fullmatch(named):
        ack(response_action="errors", errors={ids.REPAIRER: "Choose who re-authorizes."})
        return
    on_connection_modal(
        ack,
        body,
        client,
        deps,
        title=TITLE,
        busy="Sending the steps…",
        what="asking someone to re-authorize",
        step=partial(_name, deps, body, named, username),
        again="press Re-authorize again.",
    )


def _name(
    deps: SlackDeps,
    body: dict[str, Any],
    named: str,
    username: str | None,
    modal: OpenModal,
    connection_id: int,
) -> None:
    connection = submitted_connection(deps, body, connection_id, modal, TITLE)
    if connection is None:
        return
    user = body["user"]["id"]
    if not deps.access.may_name_repairer(user):
        deps.service.record(connection.id, user, "refused: tried to name who re-authorizes")
        modal.show(message_view(TITLE, "Only an approver can name who re-authorizes."))
        return
    if not deps.access.may_be_handed_a_step(named):
        modal.show(
            message_view(
                TITLE,
                f"<@{named}> is not a full member of this workspace (or Slack would not say), so "
                "they cannot look after the connection. Press Re-authorize again and name someone "
                "else.",
            )
        )
        return
    modal.show(
        message_view(TITLE, start(deps, connection, by=named, actor=user, username=username))
    )


def register(app: App) -> None:
    app.action(ids.REAUTHORIZE)(on_reauthorize)
    app.action(ids.OPEN_VCS_PROVIDERS)(on_repair_link)
    app.action(ids.REPAIR_AUTHORIZE)(on_repair_link)
    app.view(ids.REPAIR_VIEW)(on_repairer_named)
