"""Status, App Home and the audit export, through the real endpoint and command line."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.connections.model import AccountKind
from bot.connections.service import NewConnection
from tests.cli import run_cli
from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE
from tests.flow.steps import (
    CHANNEL,
    KEY,
    OWNER,
    SECRET,
    STRANGER,
    approve,
    credentials_form,
    request,
    started,
)
from tests.harness import RunningBot, eventually

APPROVER = "U9APPROVER"


def ephemeral_for(fake_slack: FakeSlack, user: str, words: str) -> Any:
    return eventually(
        lambda: [m for m in reversed(fake_slack.ephemeral) if m.user == user and words in m.text]
    )[0]


def home_click(slack: SlackDriver, user: str, action_id: str, value: str | None = None) -> None:
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": "home",
        "type": "button",
        "action_ts": f"{time.time():.6f}",
    }
    if value is not None:
        action["value"] = value
    slack.post_payload(
        {
            "type": "block_actions",
            "team": {"id": "T0FAKE"},
            "user": {"id": user, "username": user.lower()},
            "api_app_id": "A0FAKE",
            "trigger_id": slack.fake.issue_trigger(user),
            "container": {"type": "view", "view_id": "VHOME" + user},
            "view": {"type": "home", "id": "VHOME" + user},
            "actions": [action],
        }
    )


def test_status_shows_each_person_what_concerns_them(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    fake_tfe.add_organization("acme-two")
    bot = make_bot(APPROVERS=APPROVER)
    slack = SlackDriver(fake_slack, bot.url)
    started(slack, fake_slack)  # #1, by the owner, approved
    request(slack, "acme-two", user=STRANGER)  # #2, by someone else, waiting
    slack.wait_for_view_text(STRANGER, "waits for an approver")
    eventually(lambda: bot.runtime.service.get(2).state == "awaiting_approval")

    slack.command("status", user=OWNER, channel=CHANNEL)
    mine = ephemeral_for(fake_slack, OWNER, "Bitbucket connections")
    text = json.dumps(mine.blocks)
    assert "#1 acme-infra" in text and "awaiting credentials" in text and "step 1 of 4" in text
    assert "#2 acme-two" in text  # the channel's other connection
    assert "next reminder" in text
    assert not [
        v
        for v in fake_slack.views.values()
        if v.user == OWNER and "connect_request" in json.dumps(v.view)
    ]
    labels = [
        e["text"]["text"] for b in mine.blocks if b["type"] == "actions" for e in b["elements"]
    ]
    assert labels.count("Resume") == 1 and "Approve" not in labels  # #2 is not theirs to act on

    slack.command("status", user=APPROVER, channel=CHANNEL)
    theirs = ephemeral_for(fake_slack, APPROVER, "Bitbucket connections")
    assert "Waiting for your approval" in json.dumps(theirs.blocks)
    labels = [
        e["text"]["text"] for b in theirs.blocks if b["type"] == "actions" for e in b["elements"]
    ]
    assert "Approve" in labels and "Deny" in labels


def test_status_of_one_connection_has_its_timeline_and_a_live_check(
    slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE, bot: RunningBot
) -> None:
    started(slack, fake_slack)
    slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
    slack.wait_for_view_text(OWNER, "OAuth client created")
    slack.click("Authorize", user=OWNER, found=slack.find_button("Authorize"))
    # The click is noted after its ack; a person takes longer than that to authorize.
    eventually(lambda: bot.runtime.service.get(1).authorize_clicked_at is not None)
    client = fake_tfe.bitbucket_clients("acme-infra")[0]
    fake_tfe.authorize(client.id)
    eventually(lambda: bot.runtime.service.get(1).state == "connected")
    slack.command("status 1", user=OWNER, channel=CHANNEL)
    detail = ephemeral_for(fake_slack, OWNER, "Connection #1")
    text = json.dumps(detail.blocks)
    assert "Timeline" in text and client.id in text
    assert (
        "awaiting credentials \\u2192 awaiting authorization" in text
        or "awaiting credentials → awaiting authorization" in text
    )
    assert "opened the authorize link" in text
    assert "Checked just now: Terraform holds the OAuth client and its token" in text
    fake_tfe.clients[client.id].tokens.clear()  # someone deleted the token in TFE
    slack.command("status acme-infra", user=OWNER, channel=CHANNEL)
    eventually(
        lambda: [m for m in fake_slack.ephemeral if "no token for it" in json.dumps(m.blocks)]
    )
    slack.command("status nothing-like-it", user=OWNER, channel=CHANNEL)
    ephemeral_for(fake_slack, OWNER, "No connection is numbered or named nothing-like-it")


def test_app_home_is_published_on_open_and_after_a_change(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    bot = make_bot(APPROVERS=APPROVER)
    slack = SlackDriver(fake_slack, bot.url)
    assert slack.open_home(OWNER).status_code == 200
    home = eventually(lambda: fake_slack.homes.get(OWNER))
    assert "Connect an organization" in json.dumps(home)
    request(slack)
    slack.wait_for_view_text(OWNER, "waits for an approver")
    waiting = eventually(
        lambda: (
            fake_slack.homes.get(APPROVER)
            if "Waiting for your approval" in json.dumps(fake_slack.homes.get(APPROVER, {}))
            and "#1 acme-infra" in json.dumps(fake_slack.homes.get(APPROVER, {}))
            else None
        )
    )
    assert "Approve" in json.dumps(waiting)
    eventually(lambda: "#1 acme-infra" in json.dumps(fake_slack.homes.get(OWNER, {})))
    approve(slack)
    # Republished for both after the decision: no Approve left for the approver.
    eventually(lambda: "#1 acme-infra" not in json.dumps(fake_slack.homes[APPROVER]))
    eventually(lambda: "awaiting credentials" in json.dumps(fake_slack.homes[OWNER]))


def test_the_home_button_starts_a_connection_under_the_same_rules(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    bot = make_bot(ALLOWED_USERS=OWNER)
    slack = SlackDriver(fake_slack, bot.url)
    home_click(slack, OWNER, "home_connect")
    form = slack.wait_for_view(OWNER, lambda v: v.get("callback_id") == "connect_request")
    assert form.user == OWNER
    home_click(slack, STRANGER, "home_connect")
    eventually(
        lambda: [
            m
            for m in fake_slack.messages
            if m.channel == "D" + STRANGER and "ALLOWED_USERS" in m.text
        ]
    )
    assert not [v for v in fake_slack.views.values() if v.user == STRANGER]


def test_a_hundred_connections_stay_within_block_kit_limits(
    slack: SlackDriver, fake_slack: FakeSlack, bot: RunningBot
) -> None:
    for i in range(100):
        bot.runtime.service.start(
            NewConnection(
                request_ref=f"bulk:{i}",
                team_id="T",
                channel_id=CHANNEL,
                owner_id=OWNER,
                organization=f"org-{i:03d}",
                account_kind=AccountKind.PERSONAL if i % 2 else AccountKind.SERVICE_ACCOUNT,
                bitbucket_username="svc",
                bitbucket_workspace="acme-team",
            )
        )
    slack.command("status", user=OWNER, channel=CHANNEL)
    status = ephemeral_for(fake_slack, OWNER, "Bitbucket connections")  # the fake checks limits
    assert len(status.blocks) <= 50 and "more" in json.dumps(status.blocks)
    slack.open_home(OWNER)
    home = eventually(lambda: fake_slack.homes.get(OWNER))
    assert len(home["blocks"]) <= 100 and "more" in json.dumps(home)
    assert "stops working if they lose access" in json.dumps(status.blocks)


def test_the_audit_export_reads_back_as_the_database_has_it(
    slack: SlackDriver, fake_slack: FakeSlack, bot: RunningBot, env: dict[str, str], tmp_path: Path
) -> None:
    started(slack, fake_slack)
    slack.command("cancel 1", user=OWNER, channel=CHANNEL)
    eventually(lambda: bot.runtime.service.get(1).state == "cancelled")
    events = bot.runtime.service.events(1)

    def export(*args: str) -> str:
        result = run_cli(tmp_path, "audit", *args, env={"DATABASE_URL": env["DATABASE_URL"]})
        assert result.returncode == 0, result.stderr
        return result.stdout

    lines = [json.loads(line) for line in export().splitlines()]
    assert [(r["connection"], r["actor"], r["to_state"]) for r in lines] == [
        (e.connection_id, e.actor, e.to_state.value) for e in events
    ]
    assert lines[-1]["from_state"] == "awaiting_credentials" and lines[-1]["kind"] == "state_change"
    assert all(r["time"].endswith("Z") and r["organization"] == "acme-infra" for r in lines)
    rows = list(csv.DictReader(io.StringIO(export("--format", "csv"))))
    assert [r["to_state"] for r in rows] == [r["to_state"] for r in lines]
    assert export("--organization", "someone-else") == ""
    assert export("--since", "2999-01-01") == ""
    assert SECRET not in export()


@pytest.mark.sqlite_only  # a count is a count on either database
def test_and_n_more_is_exact_past_a_page(
    slack: SlackDriver, fake_slack: FakeSlack, bot: RunningBot
) -> None:
    """150 open connections: status and App Home say how many more there are, exactly,
    though they read only the first page."""
    import re

    for i in range(150):
        bot.runtime.service.start(
            NewConnection(
                request_ref=f"many:{i}",
                team_id="T",
                channel_id=CHANNEL,
                owner_id=OWNER,
                organization=f"many-{i:03d}",
                account_kind=AccountKind.SERVICE_ACCOUNT,
                bitbucket_username="svc",
                bitbucket_workspace="acme-team",
            )
        )

    def shown_and_more(blocks: list[dict[str, Any]], title: str) -> tuple[int, int]:
        text = json.dumps(blocks)
        start = text.index(title)
        listing = text[start:]
        more = re.search(r"and (\d+) more", listing)
        assert more, listing[:500]
        shown = len(re.findall(r"#\d+ many-", listing[: more.start()]))
        return shown, int(more.group(1))

    slack.command("status", user=OWNER, channel=CHANNEL)
    status = ephemeral_for(fake_slack, OWNER, "Bitbucket connections")
    assert status.text.startswith("Bitbucket connections: 150 of yours open")
    shown, more = shown_and_more(status.blocks, "Your connections")
    assert shown + more == 150 and shown > 0
    # The outbox also publishes the Home tab after each change, so an early one may say
    # fewer: the one published once all 150 exist counts every one of them.
    slack.open_home(OWNER)

    def home_counts_all() -> bool:
        home = fake_slack.homes.get(OWNER)
        return bool(home) and sum(shown_and_more(home["blocks"], "Your connections")) == 150

    eventually(home_counts_all)
