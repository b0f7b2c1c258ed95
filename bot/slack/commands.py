"""/connect-bitbucket and its subcommands."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.slack import blocks, ids
from bot.slack.deps import SlackDeps
from bot.slack.modals import open_modal

HELP = (
    "*/connect-bitbucket* connects Bitbucket Cloud to a Terraform organization as a VCS "
    "provider, step by step.\n"
    "• `/connect-bitbucket [organization]`: start a connection (opens a form)\n"
    "• `/connect-bitbucket help`: this message\n"
    "You'll need a Bitbucket account with admin access to the team's repositories "
    "(a shared service account is best) and about five minutes."
)


def register(app: App, deps: SlackDeps) -> None:
    @app.command(ids.COMMAND)
    def on_command(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        text = (body.get("text") or "").strip()
        word = text.split()[0].lower() if text else ""
        if word in ("help", "-h", "--help"):
            ack(text=HELP)
            return
        user = body.get("user_id", "")
        allowed = deps.settings.allowed_users
        if allowed and user not in allowed:
            ack(
                text="You are not on the list of people who may connect Bitbucket "
                "(ALLOWED_USERS). Ask whoever runs this bot to add you."
            )
            return
        # No duplicate check here: Slack does not retry slash commands, and a trigger
        # opens one modal at most.
        ack()
        form = blocks.RequestForm(channel_id=body.get("channel_id", ""), organization=text)
        open_modal(
            deps,
            client,
            trigger_id=body["trigger_id"],
            view=blocks.request_view(form),
            channel=form.channel_id,
            user=user,
        )
