"""Button clicks on the progress message and the owner's direct messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.connections.model import Connection
from bot.connections.service import ConnectionNotFound
from bot.connections.states import State
from bot.slack import blocks, ids
from bot.slack.deps import SlackDeps
from bot.slack.ending import cancel
from bot.slack.modals import TRIGGER_FAILED, open_modal


def _action(body: dict[str, Any]) -> dict[str, Any]:
    return (body.get("actions") or [{}])[0]


def _channel(body: dict[str, Any]) -> str | None:
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")


def register(app: App, deps: SlackDeps) -> None:
    def owner_action(
        action_id: str,
        what: str,
        handle: Callable[[Connection, dict[str, Any], WebClient], None],
        *,
        urgent: bool = False,
        anyone: bool = False,
    ) -> None:
        """A button only the connection's owner may press; anyone else is told so.

        With `anyone`, the handler decides who may (Cancel also lets approvers in).
        """

        @app.action(action_id)
        def on_click(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
            ack()
            user = body["user"]["id"]
            channel = _channel(body)

            def run() -> None:
                if not deps.deliveries.first_time(body):
                    return
                try:
                    connection = deps.service.get(int(_action(body).get("value") or 0))
                except (ConnectionNotFound, ValueError):
                    deps.notifier.tell_user(channel, user, "That connection no longer exists.")
                    return
                if connection.owner_id != user and not anyone:
                    deps.notifier.tell_user(
                        channel,
                        user,
                        (
                            f"Only <@{connection.owner_id}>, who owns connection #{connection.id}, "
                            "can do that. To connect another organization, run /connect-bitbucket."
                        ),
                    )
                    return
                handle(connection, body, client)

            deps.work.submit(
                what,
                run,
                urgent=urgent,
                on_error=lambda _e: deps.notifier.tell_user(
                    channel,
                    user,
                    f"Something went wrong while {what}. Press the button again; "
                    "if it keeps happening, tell whoever runs the bot.",
                ),
            )

    def enter_credentials(connection: Connection, body: dict[str, Any], client: WebClient) -> None:
        if connection.state != State.AWAITING_CREDENTIALS:
            deps.notifier.tell_user(
                _channel(body),
                connection.owner_id,
                (f"Connection #{connection.id} is past that step; see its progress message."),
            )
            return
        try:
            client.views_open(
                trigger_id=body["trigger_id"], view=blocks.credentials_view(connection)
            )
        except SlackApiError:
            deps.notifier.tell_user(_channel(body), connection.owner_id, TRIGGER_FAILED)

    def callback_updated(connection: Connection, body: dict[str, Any], client: WebClient) -> None:
        connection, moved = deps.flow.confirm_callback(connection.id, actor=connection.owner_id)
        if moved:
            deps.notifier.send_authorize_link(connection)
            deps.notifier.refresh_progress(connection.id)

    def resend_authorize(connection: Connection, body: dict[str, Any], client: WebClient) -> None:
        if connection.state != State.AWAITING_AUTHORIZATION:
            deps.notifier.tell_user(
                _channel(body),
                connection.owner_id,
                (f"Connection #{connection.id} is not waiting for authorization."),
            )
            return
        deps.notifier.send_authorize_link(connection)

    def authorize_opened(connection: Connection, body: dict[str, Any], client: WebClient) -> None:
        if deps.flow.authorize_opened(connection.id):
            deps.notifier.refresh_progress(connection.id)

    def resume(connection: Connection, body: dict[str, Any], client: WebClient) -> None:
        state = connection.state
        if state == State.AWAITING_CREDENTIALS:
            enter_credentials(connection, body, client)
        elif state == State.AWAITING_CALLBACK:
            deps.notifier.send_step(connection)
        elif state == State.AWAITING_AUTHORIZATION:
            deps.notifier.send_authorize_link(connection)
        elif state == State.FAILED:
            form = blocks.RequestForm(
                channel_id=connection.channel_id, organization=connection.organization
            )
            client.views_open(trigger_id=body["trigger_id"], view=blocks.request_view(form))
        else:
            deps.notifier.tell_user(
                _channel(body),
                connection.owner_id,
                (f"Connection #{connection.id} has already ended ({state.words})."),
            )

    def cancel_clicked(connection: Connection, body: dict[str, Any], client: WebClient) -> None:
        user = body["user"]
        said = cancel(deps, connection, user["id"], user.get("username") or user["id"])
        deps.notifier.tell_user(_channel(body), user["id"], said)

    owner_action(ids.RESUME, "resuming the connection", resume, urgent=True)
    owner_action(ids.CANCEL, "cancelling the connection", cancel_clicked, anyone=True)
    owner_action(
        ids.ENTER_CREDENTIALS, "opening the key and secret form", enter_credentials, urgent=True
    )
    owner_action(ids.CALLBACK_UPDATED, "moving on to authorizing", callback_updated)
    owner_action(ids.RESEND_AUTHORIZE, "sending the authorize link", resend_authorize)
    owner_action(ids.AUTHORIZE, "noting the authorize click", authorize_opened)

    @app.action(ids.OPEN_BITBUCKET)
    @app.action(ids.OPEN_CONSUMERS)
    def on_link(ack: Ack) -> None:
        # Link buttons open the browser themselves; Slack still wants an acknowledgement.
        ack()

    @app.action(ids.START_OVER)
    def on_start_over(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        form = blocks.RequestForm(
            channel_id=_channel(body) or "", organization=_action(body).get("value") or ""
        )
        open_modal(
            deps,
            client,
            trigger_id=body["trigger_id"],
            view=blocks.request_view(form),
            channel=_channel(body),
            user=body["user"]["id"],
        )
