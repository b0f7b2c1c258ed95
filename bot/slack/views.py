"""Modal submissions: the connect request, and the consumer's key and secret."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.connections import validation
from bot.connections.model import AccountKind, Connection
from bot.connections.service import (
    ConnectionNotFound,
    DuplicateRequest,
    NewConnection,
    OrganizationBusy,
)
from bot.connections.states import State
from bot.flows.connect import ADD_ANOTHER, duplicates_message
from bot.flows.problems import Problem
from bot.slack import blocks, ids
from bot.slack.deps import SlackDeps
from bot.slack.text import escape

log = logging.getLogger(__name__)

# Slack applies our ack's "update" when it gets the HTTP answer; a views.update sent
# sooner could land first and be overwritten by the "please wait" view.
_AFTER_ACK = 0.3


def _value(body: dict[str, Any], block: str) -> Any:
    state = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    return (state.get(block) or {}).get(ids.VALUE) or {}


def _metadata(body: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads((body.get("view") or {}).get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _wait_for_ack(received: float) -> None:
    remaining = _AFTER_ACK - (time.monotonic() - received)
    if remaining > 0:
        time.sleep(remaining)


def read_request_form(body: dict[str, Any]) -> blocks.RequestForm:
    kind_option = _value(body, ids.ACCOUNT_KIND).get("selected_option") or {}
    try:
        kind = AccountKind(str(kind_option.get("value")))
    except ValueError:
        kind = AccountKind.SERVICE_ACCOUNT
    return blocks.RequestForm(
        channel_id=str(_metadata(body).get("channel") or ""),
        organization=_value(body, ids.ORGANIZATION).get("value") or "",
        account_kind=kind,
        username=_value(body, ids.SERVICE_USERNAME).get("value") or "",
        acknowledged=_ticked(body, ids.OWNERSHIP_ACK),
        workspace=_value(body, ids.WORKSPACE).get("value") or "",
        add_another=_ticked(body, ids.ADD_ANOTHER),
    )


def _ticked(body: dict[str, Any], block: str) -> bool:
    return bool(_value(body, block).get("selected_options"))


def validate_request(form: blocks.RequestForm) -> tuple[dict[str, str], dict[str, str | None]]:
    """Field errors, and the cleaned values when there are none."""
    errors: dict[str, str] = {}
    clean: dict[str, str | None] = {}
    org = validation.organization(form.organization)
    if isinstance(org, validation.Invalid):
        errors[ids.ORGANIZATION] = org.message
    else:
        clean["organization"] = org.value
    if form.account_kind == AccountKind.SERVICE_ACCOUNT:
        username = validation.bitbucket_username(form.username)
        if isinstance(username, validation.Invalid):
            errors[ids.SERVICE_USERNAME] = username.message
        else:
            clean["username"] = username.value
    elif not form.acknowledged:
        errors[ids.OWNERSHIP_ACK] = (
            "Tick this to use your own account: the connection will be recorded as yours, "
            "and it stops working if you leave. Or choose a shared service account."
        )
    workspace = validation.bitbucket_workspace(form.workspace)
    if isinstance(workspace, validation.Invalid):
        errors[ids.WORKSPACE] = workspace.message
    else:
        clean["workspace"] = workspace.value if workspace else None
    return errors, clean


def register(app: App, deps: SlackDeps) -> None:
    @app.view(ids.REQUEST_VIEW)
    def on_request(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        received = time.monotonic()
        form = read_request_form(body)
        errors, clean = validate_request(form)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        organization = str(clean["organization"])
        ack(
            response_action="update",
            view=blocks.busy_view(
                "Connect Bitbucket",
                f"Checking organization *{escape(organization)}* with Terraform…",
            ),
        )
        view_id = body["view"]["id"]
        user = body["user"]["id"]

        def show(view: dict[str, Any]) -> None:
            _wait_for_ack(received)
            client.views_update(view_id=view_id, view=view)

        def check_and_start() -> None:
            if not deps.deliveries.first_time(body):
                return
            busy = deps.service.open_for_organization(organization)
            if busy is not None:
                show(_busy(form, busy, user))
                return
            checked = deps.flow.check_organization(organization)
            if checked.problem is not None:
                show(_request_with_problem(form, checked.problem))
                return
            if checked.existing and not form.add_another:
                show(
                    blocks.request_view(
                        form,
                        offer_add_another=True,
                        notice=duplicates_message(organization, checked.existing),
                    )
                )
                return
            try:
                connection = deps.service.start(
                    NewConnection(
                        request_ref=f"view:{view_id}:{body['view'].get('hash')}",
                        team_id=(body.get("team") or {}).get("id") or "",
                        channel_id=form.channel_id,
                        owner_id=user,
                        organization=organization,
                        account_kind=form.account_kind,
                        bitbucket_username=clean.get("username"),
                        bitbucket_workspace=clean.get("workspace"),
                        duplicates_acknowledged=bool(checked.existing),
                    )
                )
            except DuplicateRequest:
                return
            except OrganizationBusy as taken:  # someone started it a moment ago
                show(_busy(form, taken.existing, user))
                return
            try:
                connection = deps.notifier.refresh_progress(connection.id)
            except SlackApiError as error:
                log.warning(
                    "posting the progress message failed; the sweep will retry",
                    extra={"connection": connection.id, "error": error.response.get("error")},
                )
            show(blocks.started_view(connection))

        deps.work.submit(
            "starting a connection",
            check_and_start,
            on_error=lambda _e: show(
                _request_with_problem(
                    form,
                    Problem(
                        "Something went wrong on the bot's side while starting. Press Continue to "
                        "try again; if it keeps happening, tell whoever runs the bot."
                    ),
                )
            ),
        )

    @app.view(ids.CREDENTIALS_VIEW)
    def on_credentials(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        received = time.monotonic()
        connection_id = int(_metadata(body).get("connection") or 0)
        user = body["user"]["id"]
        key = validation.consumer_key(_value(body, ids.KEY).get("value"))
        secret = validation.consumer_secret(_value(body, ids.SECRET).get("value"))
        errors = {
            block: checked.message
            for block, checked in ((ids.KEY, key), (ids.SECRET, secret))
            if isinstance(checked, validation.Invalid)
        }
        if errors:
            ack(response_action="errors", errors=errors)
            return
        try:
            connection = deps.service.get(connection_id)
        except ConnectionNotFound:
            ack(
                response_action="update",
                view=blocks.message_view(
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
            view=blocks.busy_view(
                "Key and Secret",
                "Checking the consumer with Bitbucket, then creating the OAuth client in "
                "Terraform…",
            ),
        )
        assert isinstance(key, validation.Valid) and isinstance(secret, validation.Valid)
        view_id = body["view"]["id"]
        username = body["user"].get("username") or body["user"].get("name") or user
        key_value, secret_value = key.value, secret.value

        def show(view: dict[str, Any]) -> None:
            _wait_for_ack(received)
            client.views_update(view_id=view_id, view=view)

        add_another = _ticked(body, ids.ADD_ANOTHER)

        def create() -> None:
            if not deps.deliveries.first_time(body):
                return
            outcome = deps.flow.create_client(
                connection_id,
                key=key_value,
                secret=secret_value,
                requester_name=username,
                add_another=add_another,
            )
            if isinstance(outcome, Problem):
                show(_credentials_with_problem(deps.service.get(connection_id), key_value, outcome))
                return
            if outcome.state != State.AWAITING_CALLBACK:
                show(
                    blocks.message_view(
                        "Key and Secret",
                        ("This connection has moved on already; see its progress message."),
                    )
                )
                return
            show(blocks.client_created_view(outcome))
            deps.notifier.refresh_progress(connection_id)

        def recover(_error: Exception) -> None:
            connection = deps.service.get(connection_id)
            if connection.state == State.AWAITING_CREDENTIALS:
                show(
                    blocks.credentials_view(
                        connection,
                        key=key_value,
                        notice=(
                            "Something went wrong on the bot's side. Enter the secret again "
                            "and press Connect to retry; nothing is created twice."
                        ),
                    )
                )
            else:
                show(
                    blocks.message_view(
                        "Key and Secret",
                        (
                            "Something went wrong on the bot's side after the OAuth client was "
                            "created. The progress message shows where the connection stands."
                        ),
                    )
                )

        deps.work.submit(
            "creating the OAuth client", create, connection=connection_id, on_error=recover
        )


def _busy(form: blocks.RequestForm, busy: Connection, user: str) -> dict[str, Any]:
    """The form again, saying the organization has a connection under way."""
    stage = busy.state.words
    message = (
        f"You already started connection #{busy.id} for {busy.organization} ({stage}). "
        "Continue from its progress message."
        if busy.owner_id == user
        else f"Connection #{busy.id} for {busy.organization} is already under way ({stage}). "
        "Ask its owner to finish or cancel it first."
    )
    return blocks.request_view(form, errors={ids.ORGANIZATION: message})


def _credentials_with_problem(connection: Connection, key: str, problem: Problem) -> dict[str, Any]:
    """The key and secret form again, with the problem where it belongs."""
    again = "Enter the secret again to retry."
    if problem.field == ADD_ANOTHER:
        return blocks.credentials_view(
            connection, key=key, notice=f"{problem.message} {again}", offer_add_another=True
        )
    if problem.field:
        return blocks.credentials_view(
            connection, key=key, errors={problem.field: problem.message}, notice=again
        )
    return blocks.credentials_view(connection, key=key, notice=f"{problem.message} {again}")


def _request_with_problem(form: blocks.RequestForm, problem: Problem) -> dict[str, Any]:
    if problem.field == "organization":
        return blocks.request_view(form, errors={ids.ORGANIZATION: problem.message})
    suffix = " Press Continue to try again." if problem.retryable else ""
    return blocks.request_view(form, notice=problem.message + suffix)
