"""Modal submissions: the connect request, and the consumer's key and secret.

Each listener checks what it can at once, acknowledges with the answer Slack shows in the
modal, and hands the slow part (TFE, Bitbucket) to the work pool, which then updates the
modal in place.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.connect.flow import ADD_ANOTHER, duplicates_message
from bot.connect.modal_blocks import (
    client_created_view,
    credentials_view,
    request_view,
    started_view,
)
from bot.connections.model import Bitbucket, Connection
from bot.connections.service import (
    ConnectionNotFound,
    DuplicateRequest,
    NewConnection,
    OrganizationBusy,
)
from bot.connections.states import FINAL, State
from bot.data_center.flow import FIELD as DATA_CENTER_FIELD
from bot.data_center.flow import CheckedAddress
from bot.deps import SlackDeps
from bot.problems import Problem
from bot.redaction import REDACTOR
from bot.slack import forms, ids
from bot.slack.blocks.kit import RequestForm, busy_view, message_view
from bot.slack.modals import OpenModal
from bot.slack.text import escape

log = logging.getLogger(__name__)

START_FAILED = (
    "Something went wrong on the bot's side while starting. Press Continue to "
    "try again; if it keeps happening, tell whoever runs the bot."
)


# The connect request.


def on_request(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    """The first modal: check the fields now, then the organization with TFE after the ack."""
    modal = OpenModal(client, body["view"]["id"], time.monotonic())
    # Whether a reason is required is the server's setting, never the form's say-so.
    form = replace(
        forms.read_request_form(body),
        ask_reason=deps.access.needs_approval,
        tfe_host=deps.pages.tfe_host,
        offer_data_center=deps.data_center.addresses.offered,
    )
    errors, clean = forms.validate_request(form)
    if not errors:
        refusal = deps.access.organization_refusal(str(clean["organization"]))
        if refusal is not None:
            errors[ids.ORGANIZATION] = refusal
    if errors:
        ack(response_action="errors", errors=errors)
        return
    organization = str(clean["organization"])
    ack(
        response_action="update",
        view=busy_view(
            "Connect Bitbucket", f"Checking organization *{escape(organization)}* with Terraform…"
        ),
    )
    deps.work.submit(
        "starting a connection",
        partial(start_connection, deps, body, form, clean, modal),
        on_error=lambda _e: modal.show(_request_with_problem(form, Problem(START_FAILED))),
    )


def start_connection(
    deps: SlackDeps,
    body: dict[str, Any],
    form: RequestForm,
    clean: dict[str, str | None],
    modal: OpenModal,
) -> None:
    """Check the organization, record the connection and post its progress message."""
    if not deps.deliveries.first_time(body):
        return
    user = body["user"]["id"]
    organization = str(clean["organization"])
    refusal = deps.access.refusal_to_start(user)
    if refusal is not None:
        modal.show(message_view("Connect Bitbucket", refusal))
        return
    superseded: Connection | None = None
    try:
        busy = deps.service.open_for_organization(organization)
        if busy is not None and busy.state == State.FAILED:
            superseded = supersede(deps, busy, body["user"])
        elif busy is not None:
            raise OrganizationBusy(busy)
        existing = deps.flow.check_organization(organization)
        data_center = _data_center(deps, form)
        if data_center is not None:
            existing = []  # a Data Center client is no duplicate of a Cloud one
        projects = deps.flow.resolve_projects(
            organization, [n.strip() for n in (clean.get("projects") or "").split(",") if n.strip()]
        )
        # A broken connection's client is no reason to ask: the new one replaces it.
        replaced = (
            deps.queries.broken_clients(organization, clean.get("workspace")) if existing else {}
        )
        existing = [client for client in existing if client.id not in replaced]
        if existing and not form.add_another:
            modal.show(
                request_view(
                    form,
                    offer_add_another=True,
                    notice=duplicates_message(organization, existing),
                )
            )
            return
        connection = deps.service.start(
            NewConnection(
                request_ref=f"view:{modal.view_id}:{body['view'].get('hash')}",
                team_id=(body.get("team") or {}).get("id") or "",
                channel_id=form.channel_id,
                owner_id=user,
                organization=organization,
                account_kind=form.account_kind,
                bitbucket_username=clean.get("username"),
                bitbucket_workspace=clean.get("workspace"),
                # Also when it replaces a broken one: its client is no reason to ask later.
                duplicates_acknowledged=bool(existing or replaced),
                reason=clean.get("reason"),
                projects=projects,
                bitbucket=Bitbucket.DATA_CENTER if data_center else Bitbucket.CLOUD,
                data_center_url=data_center.url if data_center else None,
                data_center_version=data_center.version if data_center else None,
            ),
            needs_approval=deps.access.needs_approval,
        )
        if connection.bitbucket_workspace:
            deps.prefills.note(organization, connection.bitbucket_workspace)
    except DuplicateRequest:
        return
    except OrganizationBusy as taken:  # under way, or someone started it a moment ago
        modal.show(_busy(form, taken.existing, user))
        return
    except Problem as problem:
        modal.show(_request_with_problem(form, problem))
        return
    if superseded is not None:
        deps.service.record(superseded.id, user, f"superseded by connection #{connection.id}")
    deps.courier.deliver(connection.id)  # the progress message (and approvers' cards)
    modal.show(started_view(deps.service.get(connection.id)))


def supersede(deps: SlackDeps, failed: Connection, user: dict[str, Any]) -> Connection:
    """End a failed connection (cleaning up its OAuth client) so a new one can start."""
    name = user.get("username") or user.get("name") or user["id"]
    ended, cleanup = deps.stall.end(
        failed.id,
        State.CANCELLED,
        actor=user["id"],
        reason=f"Superseded by a new connection that @{name} started.",
    )
    deps.courier.deliver(ended.id)
    log.info(
        "superseded a failed connection",
        extra={"connection": ended.id, "client": cleanup.client_id},
    )
    return ended


def _busy(form: RequestForm, busy: Connection, user: str) -> dict[str, Any]:
    """The form again, saying the organization has a connection under way."""
    message = (
        f"You already started connection #{busy.id} for {busy.organization} "
        f"({busy.state.words}). Continue from its progress message."
        if busy.owner_id == user
        else f"{OrganizationBusy(busy).message} Ask its owner to finish or cancel it first."
    )
    return request_view(form, errors={ids.ORGANIZATION: message})


def _data_center(deps: SlackDeps, form: RequestForm) -> CheckedAddress | None:
    """The Data Center address, checked (a Problem on its field), when one was chosen."""
    if form.bitbucket != Bitbucket.DATA_CENTER:
        return None
    return deps.data_center.addresses.check(form.data_center_url)


def _request_with_problem(form: RequestForm, problem: Problem) -> dict[str, Any]:
    if problem.field == DATA_CENTER_FIELD:
        return request_view(form, errors={ids.DATA_CENTER_URL: problem.message})
    if problem.field == "organization":
        return request_view(form, errors={ids.ORGANIZATION: problem.message})
    if problem.field == "projects":
        return request_view(form, errors={ids.PROJECTS: problem.message})
    suffix = " Press Continue to try again." if problem.retryable else ""
    return request_view(form, notice=problem.message + suffix)


# The consumer's key and secret.


@dataclass(frozen=True)
class Credentials:
    """What the key and secret modal held; lives only as long as the create takes."""

    connection_id: int
    key: str
    secret: str = field(repr=False)
    requester_name: str
    add_another: bool


def on_credentials(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    """The key and secret: checked for shape and ownership now, used after the ack."""
    modal = OpenModal(client, body["view"]["id"], time.monotonic())
    user = body["user"]["id"]
    typed = forms.read_key_and_secret(body)
    if not isinstance(typed, forms.KeyAndSecret):
        ack(response_action="errors", errors=typed)
        return
    connection_id = forms.connection_id(forms.metadata(body).get("connection"))
    try:
        if connection_id is None:
            raise ConnectionNotFound(0)
        connection = deps.service.get(connection_id)
    except ConnectionNotFound:
        ack(
            response_action="update",
            view=message_view(
                "Key and Secret",
                "This connection no longer exists. Start again with `/connect-bitbucket`.",
            ),
        )
        return
    if connection.owner_id != user:
        ack(
            response_action="errors",
            errors={
                ids.KEY: (
                    f"Only the connection's owner (<@{connection.owner_id}>) can enter its key "
                    "and secret."
                )
            },
        )
        return
    ack(
        response_action="update",
        view=busy_view(
            "Key and Secret",
            "Checking the consumer with Bitbucket, then creating the OAuth client in Terraform…",
        ),
    )
    given = Credentials(
        connection_id=connection.id,
        key=typed.key,
        secret=typed.secret,
        requester_name=body["user"].get("username") or body["user"].get("name") or user,
        add_another=forms.ticked(body, ids.ADD_ANOTHER),
    )
    deps.work.submit(
        "creating the OAuth client",
        partial(create_client, deps, body, given, modal),
        connection=connection.id,
        on_error=partial(_create_failed, deps, given, modal),
    )


def create_client(
    deps: SlackDeps, body: dict[str, Any], given: Credentials, modal: OpenModal
) -> None:
    """Check the consumer and create the OAuth client, then say what happened in the modal.

    The secret is held for the whole of it, so no text that echoes it (an error from
    Bitbucket or Terraform) reaches Slack, a log line or the database.
    """
    with REDACTOR.holding(given.secret, key=given.key):
        try:
            _create_client(deps, body, given, modal)
        except Exception as error:
            # Logged by the work pool after the secret is let go: scrub its words now.
            said = REDACTOR.scrub(f"{type(error).__name__}: {error}")
            raise RuntimeError(said) from None


def _create_client(
    deps: SlackDeps, body: dict[str, Any], given: Credentials, modal: OpenModal
) -> None:
    if not deps.deliveries.first_time(body):
        return
    try:
        connection, made = deps.flow.create_client(
            given.connection_id,
            key=given.key,
            secret=given.secret,
            requester_name=given.requester_name,
            add_another=given.add_another,
        )
    except Problem as problem:
        connection = deps.service.get(given.connection_id)
        modal.show(_credentials_with_problem(connection, given.key, problem))
        return
    if not made:
        modal.show(_moved_on_view(connection))
        return
    modal.show(client_created_view(connection))
    deps.courier.deliver(connection.id)  # the progress message (and the Authorize link)


def _create_failed(
    deps: SlackDeps, given: Credentials, modal: OpenModal, _error: Exception
) -> None:
    connection = deps.service.get(given.connection_id)
    if connection.state == State.AWAITING_CREDENTIALS:
        modal.show(
            credentials_view(
                connection,
                key=given.key,
                notice=(
                    "Something went wrong on the bot's side. Enter the secret again "
                    "and press Connect to retry; nothing is created twice."
                ),
            )
        )
    elif connection.state in FINAL:
        modal.show(_moved_on_view(connection))
    else:
        modal.show(
            message_view(
                "Key and Secret",
                "Something went wrong on the bot's side after the OAuth client was "
                "created. The progress message shows where the connection stands.",
            )
        )


def _moved_on_view(connection: Connection) -> dict[str, Any]:
    """What the owner reads when the connection moved on while the key and secret were
    being used: ended (cancelled, say, while Terraform made the client), or further on."""
    if connection.state in FINAL:
        return message_view(
            "Key and Secret",
            f"This connection was {connection.state.value}, so nothing more happens to it; "
            "an OAuth client Terraform made for it meanwhile is deleted. "
            "Run /connect-bitbucket to start a new connection.",
        )
    return message_view(
        "Key and Secret", "This connection has moved on already; see its progress message."
    )


def _credentials_with_problem(connection: Connection, key: str, problem: Problem) -> dict[str, Any]:
    """The key and secret form again, with the problem where it belongs."""
    again = "Enter the secret again to retry."
    if problem.field == ADD_ANOTHER:
        return credentials_view(
            connection, key=key, notice=f"{problem.message} {again}", offer_add_another=True
        )
    if problem.field:
        return credentials_view(
            connection, key=key, errors={problem.field: problem.message}, notice=again
        )
    return credentials_view(connection, key=key, notice=f"{problem.message} {again}")


def register(app: App) -> None:
    app.view(ids.REQUEST_VIEW)(on_request)
    app.view(ids.CREDENTIALS_VIEW)(on_credentials)
