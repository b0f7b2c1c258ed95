"""The README's "What it looks like": the progress message and the channel's notice of a
finished connection, as the bot builds them today, each a link that opens it in Slack's
Block Kit Builder. `python scripts/readme_examples.py` prints the lines to paste;
tests/unit/test_readme.py checks that the README's links are these.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.connect.blocks import progress_message
from bot.connect.message_blocks import connected_announcement
from bot.connections.model import AccountKind, Connection
from bot.connections.pages import Pages
from bot.connections.states import State

BUILDER = "https://app.slack.com/block-kit-builder/#"


def example_connection() -> Connection:
    at = datetime(2026, 12, 1, 14, 2, tzinfo=UTC)
    return Connection(
        id=12,
        request_ref="example",
        team_id="T0EXAMPLE",
        channel_id="C0EXAMPLE",
        owner_id="U0EXAMPLE",
        organization="acme-infra",
        account_kind=AccountKind.SERVICE_ACCOUNT,
        bitbucket_username="svc-terraform",
        bitbucket_workspace="acme-team",
        state=State.CONNECTED,
        oauth_client_id="oc-EXAMPLE123",
        client_uuid="00000000-0000-4000-8000-000000000012",
        oauth_token_id="ot-EXAMPLE456",
        authorized_as="svc-terraform",
        created_at=at,
        progressed_at=at,
        uses_workspaces=0,
        uses_policy_sets=0,
        uses_modules=0,
    )


def examples() -> dict[str, list[dict[str, Any]]]:
    """What each README link opens: the blocks the bot builds for the example."""
    connection = example_connection()
    pages = Pages(tfe_url="https://app.terraform.io", bitbucket_url="https://bitbucket.org")
    _, progress = progress_message(
        connection,
        values=pages.consumer_values(connection),
        pages=pages.bitbucket(connection),
        poll_every=5,
    )
    _, notice = connected_announcement(connection)
    return {"progress message": progress, "channel's notice": notice}


def link(blocks: list[dict[str, Any]]) -> str:
    return BUILDER + quote(json.dumps({"blocks": blocks}, separators=(",", ":")), safe="")


def markdown() -> str:
    shown = examples()
    progress, notice = link(shown["progress message"]), link(shown["channel's notice"])
    return (
        "A finished connection, as the bot builds it (each link opens it in Slack's Block Kit "
        f"Builder): [the progress message]({progress}) in the "
        f"channel, and [the channel's notice]({notice}) when "
        "Terraform holds the token."
    )


if __name__ == "__main__":
    print(markdown())
