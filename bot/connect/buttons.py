"""Button clicks on the progress message and the owner's direct messages.

Every listener acks at once; the work runs on the pool through the button prelude
(bot.slack.preludes), which drops repeated deliveries and finds the connection.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.connect.modal_blocks import credentials_view
from bot.connect.request_form import open_request_form, open_request_form_now
from bot.connections.model import AccountKind, Connection
from bot.connections.states import State
from bot.deps import SlackDeps
from bot.slack import ids
from bot.slack.ending import cancel
from bot.slack.modals import TRIGGER_FAILED
from bot.slack.preludes import action_of, channel_of, on_connection_button

# The steps behind the buttons.


def open_credentials(
    deps: SlackDeps, connection: Connection, body: dict[str, Any], client: WebClient
) -> None:
    """Enter Key and Secret: open the modal, while the connection still waits for them."""
    if connection.state != State.AWAITING_CREDENTIALS:
        deps.notifier.tell_user(
            channel_of(body),
            connection.owner_id,
            f"Connection #{connection.id} is past that step; see its progress message.",
        )
        return
    try:
        client.views_open(trigger_id=body["trigger_id"], view=credentials_view(connection))
    except SlackApiError:
        deps.notifier.tell_user(channel_of(body), connection.owner_id, TRIGGER_FAILED)


def confirm_callback(
    deps: SlackDeps, connection: Connection, body: dict[str, Any], client: WebClient
) -> None:
    """I've updated the callback URL: move on to authorizing (once, however many clicks)."""
    connection, moved = deps.flow.confirm_callback(connection.id, actor=connection.owner_id)
    if moved:
        deps.courier.deliver(connection.id)  # the Authorize link and the progress message


def resend_authorize(
    deps: SlackDeps, connection: Connection, body: dict[str, Any], client: WebClient
) -> None:
    if connection.state != State.AWAITING_AUTHORIZATION:
        deps.notifier.tell_user(
            channel_of(body),
            connection.owner_id,
            f"Connection #{connection.id} is not waiting for authorization.",
        )
        return
    deps.connect_messages.send_authorize_link(connection)


def note_authorize_opened(
    deps: SlackDeps, connection: Connection, body: dict[str, Any], client: WebClient
) -> None:
    """The Authorize link button was clicked: watch TFE closely for the token from now on."""
    if deps.flow.tokens.authorize_opened(connection.id):
        deps.courier.deliver(connection.id)


def resume(
    deps: SlackDeps, connection: Connection, body: dict[str, Any], client: WebClient
) -> None:
    """Bring back whatever the owner does next: the form, the callback URL, the link."""
    state = connection.state
    if state == State.AWAITING_CREDENTIALS:
        open_credentials(deps, connection, body, client)
    elif state == State.AWAITING_CALLBACK:
        deps.connect_messages.send_step(connection)
    elif state == State.AWAITING_AUTHORIZATION:
        deps.connect_messages.send_authorize_link(connection)
    elif state == State.FAILED:
        # Already on the urgent pool: check and open here, within the trigger's 3 seconds.
        open_request_form_now(
            deps,
            client,
            connection.owner_id,
            body["trigger_id"],
            connection.channel_id,
            connection.organization,
        )
    else:
        deps.notifier.tell_user(
            channel_of(body),
            connection.owner_id,
            f"Connection #{connection.id} has already ended ({state.words}).",
        )


def cancel_clicked(
    deps: SlackDeps, connection: Connection, body: dict[str, Any], client: WebClient
) -> None:
    user = body["user"]
    said = cancel(deps, connection, user["id"], user.get("username") or user["id"])
    deps.notifier.tell_user(channel_of(body), user["id"], said)


# The listeners.


def on_resume(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    ack()
    on_connection_button(
        deps, body, client, "resuming the connection", resume, urgent=True, owner_only=True
    )


def on_cancel(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    ack()
    on_connection_button(deps, body, client, "cancelling the connection", cancel_clicked)


def on_enter_credentials(
    ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps
) -> None:
    ack()
    on_connection_button(
        deps,
        body,
        client,
        "opening the key and secret form",
        open_credentials,
        urgent=True,
        owner_only=True,
    )


def on_callback_updated(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    ack()
    on_connection_button(
        deps, body, client, "moving on to authorizing", confirm_callback, owner_only=True
    )


def on_resend_authorize(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    ack()
    on_connection_button(
        deps, body, client, "sending the authorize link", resend_authorize, owner_only=True
    )


def on_authorize_opened(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    ack()
    on_connection_button(
        deps, body, client, "noting the authorize click", note_authorize_opened, owner_only=True
    )


def on_home_connect(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    """Connect an organization, from App Home: the same form, under the same rules."""
    ack()
    open_request_form(
        deps, client, user=body["user"]["id"], trigger_id=body["trigger_id"], channel=""
    )


def reconnect(
    deps: SlackDeps, connection: Connection, body: dict[str, Any], client: WebClient
) -> None:
    """A new connection prefilled from a broken one (or, after the owner left, with a
    service account), under the usual access and approval rules."""
    service = action_of(body).get("action_id", "").startswith(ids.RECONNECT_SERVICE)
    open_request_form_now(
        deps,
        client,
        body["user"]["id"],
        body["trigger_id"],
        connection.channel_id,
        connection.organization,
        prefill={
            "account_kind": AccountKind.SERVICE_ACCOUNT if service else connection.account_kind,
            "username": "" if service else (connection.bitbucket_username or ""),
            "workspace": connection.bitbucket_workspace or "",
            "projects": connection.project_names or "",
            # The same Bitbucket: a Data Center connection is reconnected to its Data Center.
            "bitbucket": connection.which_bitbucket,
            **({"data_center_url": connection.data_center_url} if connection.data_center else {}),
        },
    )


def on_reconnect(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    ack()
    # Owner, approvers and anyone allowed to start may reconnect; the form checks who.
    on_connection_button(deps, body, client, "opening the reconnect form", reconnect, urgent=True)


def on_link(ack: Ack) -> None:
    """Link buttons open the browser themselves; Slack still wants an acknowledgement."""
    ack()


def on_start_over(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    """Start over on an ended connection: the form again, under the usual access rules.

    Submitting it supersedes a failed connection of the same organization."""
    ack()
    open_request_form(
        deps,
        client,
        user=body["user"]["id"],
        trigger_id=body["trigger_id"],
        channel=channel_of(body) or "",
        organization=str(action_of(body).get("value") or ""),
    )


def register(app: App) -> None:
    app.action(ids.numbered(ids.RESUME))(on_resume)
    app.action(ids.numbered(ids.CANCEL))(on_cancel)
    app.action(ids.ENTER_CREDENTIALS)(on_enter_credentials)
    app.action(ids.CALLBACK_UPDATED)(on_callback_updated)
    app.action(ids.RESEND_AUTHORIZE)(on_resend_authorize)
    app.action(ids.AUTHORIZE)(on_authorize_opened)
    app.action(ids.HOME_CONNECT)(on_home_connect)
    app.action(ids.RECONNECT)(on_reconnect)
    app.action(ids.RECONNECT_SERVICE)(on_reconnect)
    app.action(ids.OPEN_BITBUCKET)(on_link)
    app.action(ids.OPEN_CONSUMERS)(on_link)
    app.action(ids.START_OVER)(on_start_over)
