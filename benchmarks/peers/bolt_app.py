"""A plain Bolt app for the side-by-side benchmark:
`python -m benchmarks.peers.bolt_app bare|peer|checking`.

bare: acks the slash command and nothing else, served like the bot (waitress, 16 threads,
process_before_response). peer: Bolt's defaults, acks, then opens a five-input modal like
the bot's connect form with `client.views_open`, served by waitress with 16 threads.
checking: the peer doing the bot's whole work: it also asks `users.info` whether the person
is a full member (the bot refuses guests, bots and deactivated accounts) before opening.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from waitress import serve

MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "connect_request",
    "title": {"type": "plain_text", "text": "Connect Bitbucket"},
    "submit": {"type": "plain_text", "text": "Continue"},
    "close": {"type": "plain_text", "text": "Cancel"},
    "blocks": [
        {
            "type": "input",
            "block_id": block,
            "label": {"type": "plain_text", "text": label},
            "optional": block in ("username", "ack"),
            "element": element,
        }
        for block, label, element in (
            (
                "organization",
                "Terraform organization",
                {"type": "plain_text_input", "action_id": "value"},
            ),
            (
                "kind",
                "Whose Bitbucket account will own the connection?",
                {
                    "type": "radio_buttons",
                    "action_id": "value",
                    "options": [
                        {"text": {"type": "plain_text", "text": t}, "value": v}
                        for t, v in (
                            ("A shared service account", "service"),
                            ("My own", "personal"),
                        )
                    ],
                },
            ),
            (
                "username",
                "Service account's Bitbucket username",
                {"type": "plain_text_input", "action_id": "value"},
            ),
            (
                "ack",
                "If you use your own account",
                {
                    "type": "checkboxes",
                    "action_id": "value",
                    "options": [
                        {"text": {"type": "plain_text", "text": "I understand"}, "value": "yes"}
                    ],
                },
            ),
            (
                "workspace",
                "Bitbucket workspace",
                {"type": "plain_text_input", "action_id": "value"},
            ),
        )
    ],
    "private_metadata": "{}",
}


def main() -> None:
    kind = sys.argv[1]
    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = App(
        client=client,
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        process_before_response=kind == "bare",
    )

    if kind == "bare":

        @app.command("/connect-bitbucket")
        def bare(ack: Ack) -> None:
            ack()

    elif kind == "peer":

        @app.command("/connect-bitbucket")
        def peer(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
            ack()
            client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    else:

        @app.command("/connect-bitbucket")
        def checking(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
            ack()
            person = client.users_info(user=body["user_id"])["user"]
            if any(person.get(f) for f in ("deleted", "is_bot", "is_restricted")):
                return
            client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    serve(
        SlackRequestHandler(app),
        host="127.0.0.1",
        port=int(os.environ["PORT"]),
        threads=16,
        _quiet=True,
    )


if __name__ == "__main__":
    main()
