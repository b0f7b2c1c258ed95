"""The user's steps, reused by the flow tests."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.slack import FakeSlack, Message, SlackDriver, StoredView
from tests.fakes.tfe import FakeTFE
from tests.harness import eventually

OWNER = "U1OWNER"
STRANGER = "U2OTHER"
CHANNEL = "C1CHAN"
KEY = "fakeKeyAbc123XYZ78"
SECRET = "fakeSecretDoNotUse0123456789abcd"
ORG = "acme-infra"

SERVICE = {
    "Whose Bitbucket account will own the connection?": "A shared service account (recommended)",
    "Service account's Bitbucket username": "svc-terraform",
    "Bitbucket workspace": "acme-team",
}


def open_form(slack: SlackDriver, org: str = ORG, user: str = OWNER) -> StoredView:
    response = slack.command(org, user=user, channel=CHANNEL)
    assert response.status_code == 200
    return slack.wait_for_view(user, lambda v: v.get("callback_id") == "connect_request")


WHY = "Why is this connection needed?"
REASON = "The platform team moves its Terraform repositories to Bitbucket."


def request(
    slack: SlackDriver, org: str = ORG, values: dict[str, Any] | None = None, user: str = OWNER
) -> tuple[StoredView, dict[str, Any]]:
    """Fill in and submit the connect form (with a reason when approvals ask for one)."""
    form = open_form(slack, org, user)
    values = dict(values or SERVICE)
    if WHY in view_text(form) and WHY not in values:
        values[WHY] = REASON
    answer = slack.submit(form, values, user=user)
    return form, answer


def started(slack: SlackDriver, fake_slack: FakeSlack, org: str = ORG) -> Message:
    """Request a connection (approved by the first approver, when approvals are on) and
    return its progress message."""
    request(slack, org)
    view = slack.wait_for_view(
        OWNER, lambda v: "is under way" in json.dumps(v) or "waits for an approver" in json.dumps(v)
    )
    if "waits for an approver" in view_text(view):
        approve(slack)
        slack.find_button("Enter Key and Secret")
    return eventually(lambda: [m for m in fake_slack.channel_messages(CHANNEL) if org in m.text])[0]


def approve(slack: SlackDriver, comment: str = "") -> str:
    """The newest card's approver presses Approve and submits; returns who approved."""
    found = slack.find_button("Approve")
    approver = found[0].channel.removeprefix("D")
    slack.click("", user=approver, found=found)
    view = slack.wait_for_view(approver, lambda v: v.get("callback_id") == "approve_connection")
    slack.submit(view, {"Comment (optional)": comment} if comment else {}, user=approver)
    slack.wait_for_view_text(approver, "You approved")
    return approver


def credentials_form(slack: SlackDriver) -> StoredView:
    slack.click("Enter Key and Secret", user=OWNER)
    return slack.wait_for_view(OWNER, lambda v: v.get("callback_id") == "connect_credentials")


def at_callback(slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE) -> Message:
    """A connection at the "paste the callback URL" step: TFE ignored the uuid it was sent."""
    fake_tfe.uuid_mode = "ignore"
    progress = started(slack, fake_slack)
    slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
    slack.wait_for_view_text(OWNER, "OAuth client created")
    eventually(lambda: "I've updated the callback URL" in json.dumps(progress.blocks))
    return progress


def view_text(stored: StoredView) -> str:
    return json.dumps(stored.view)
