"""Day two, rotate: a new consumer key and secret for the same OAuth client (checked with
Bitbucket first, PATCHed into Terraform, then re-authorized), with approval where set."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from tests.fakes.bitbucket import FakeBitbucket
from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE, error_body
from tests.flow.steps import CHANNEL, OWNER, STRANGER
from tests.flow.test_health import APPROVER, channel_says, connected
from tests.flow.test_reauthorize import button_in, dm
from tests.flow.test_security import database_text
from tests.harness import RunningBot, eventually

NEW_KEY = "fakeRotatedKey0987654"
NEW_SECRET = "fakeRotatedSecretNotReal9876543210"
OTHER_APPROVER = "U7OTHER"


def patches(fake_tfe: FakeTFE, client_id: str) -> list[dict[str, object]]:
    return [r.json() for r in fake_tfe.requests_to("PATCH", rf"/api/v2/oauth-clients/{client_id}")]


def test_rotate_checks_with_bitbucket_patches_the_client_and_asks_to_reauthorize(
    make_bot: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    fake_bitbucket: FakeBitbucket,
    log_lines: list[str],
    database_url: str,
) -> None:
    bot = make_bot(HEALTH_EVERY="0.3")
    slack = SlackDriver(fake_slack, bot.url)
    client_id = connected(slack, fake_slack, fake_tfe, bot)
    fake_bitbucket.add_consumer(NEW_KEY, NEW_SECRET, owner="svc-terraform")

    # Someone else may not.
    slack.command("rotate acme-infra", user=STRANGER, channel=CHANNEL)
    eventually(lambda: [m for m in fake_slack.ephemeral if "or an approver can rotate" in m.text])
    slack.command("rotate", user=OWNER, channel=CHANNEL)
    eventually(lambda: [m for m in fake_slack.ephemeral if "Say which connection" in m.text])

    slack.command("rotate ACME-infra", user=OWNER, channel=CHANNEL)
    form = slack.wait_for_view(OWNER, lambda v: v.get("callback_id") == "rotate_credentials")
    assert "/callback" in json.dumps(form.view)  # the unchanged callback URL is shown
    # A secret Bitbucket refuses is refused before Terraform hears of it.
    slack.submit(form, {"Key": NEW_KEY, "Secret": "fakeWrongSecret000000000000000"}, user=OWNER)
    again = slack.wait_for_view_text(OWNER, "Enter the secret again")
    assert patches(fake_tfe, client_id) == []
    slack.submit(again, {"Key": NEW_KEY, "Secret": NEW_SECRET}, user=OWNER)
    slack.wait_for_view_text(OWNER, "Terraform has the new key and secret")
    [patch] = patches(fake_tfe, client_id)
    assert patch["data"]["attributes"] == {"key": NEW_KEY, "secret": NEW_SECRET}  # type: ignore[index]
    assert fake_tfe.clients[client_id].secret == NEW_SECRET
    assert len(fake_tfe.bitbucket_clients("acme-infra")) == 1  # the same client

    eventually(lambda: dm(fake_slack, OWNER, "Re-authorize the Bitbucket connection"))
    notes = [e.note or "" for e in bot.runtime.service.events(1)]
    assert (
        "asked <@U1OWNER> to re-authorize as Bitbucket user svc-terraform "
        "(its key and secret were rotated)" in notes
    )
    assert bot.runtime.service.get(1).credentials_set_at is not None
    fake_tfe.reauthorize(client_id)
    eventually(lambda: channel_says(fake_slack, "is repaired"), timeout=10)
    notes = [e.note or "" for e in bot.runtime.service.events(1)]
    assert "rotated the consumer's key and secret in Terraform" in notes

    bot.runtime.work.shutdown(wait=True)
    assert not [line for line in log_lines if NEW_SECRET in line]
    assert NEW_SECRET not in database_text(database_url)
    assert NEW_SECRET not in fake_slack.all_text()


def test_rotation_waits_for_another_approver_and_cards_lose_their_buttons(
    make_bot: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    fake_bitbucket: FakeBitbucket,
) -> None:
    from tests.flow.steps import REASON, SERVICE, WHY, approve, open_form

    bot = make_bot(HEALTH_EVERY="0.3", APPROVERS=f"{APPROVER} {OTHER_APPROVER}")
    slack = SlackDriver(fake_slack, bot.url)
    slack.submit(open_form(slack), {**SERVICE, WHY: REASON})
    slack.wait_for_view_text(OWNER, "waits for an approver")
    approve(slack)
    client_id = connected(slack, fake_slack, fake_tfe, bot, values=False)
    fake_bitbucket.add_consumer(NEW_KEY, NEW_SECRET, owner="svc-terraform")

    slack.command("status 1", user=OWNER, channel=CHANNEL)
    status = eventually(
        lambda: [
            m for m in fake_slack.ephemeral if m.user == OWNER and "Rotate" in json.dumps(m.blocks)
        ]
    )[0]
    slack.click("Rotate", user=OWNER, found=button_in(status, "Rotate"))
    why = slack.wait_for_view(OWNER, lambda v: v.get("callback_id") == "rotate_request")
    slack.submit(why, {"Why rotate?": "The secret was pasted into a ticket."}, user=OWNER)
    slack.wait_for_view_text(OWNER, "I asked the approvers")
    cards = {
        user: eventually(lambda user=user: dm(fake_slack, user, "Rotate the key and secret"))[0]
        for user in (APPROVER, OTHER_APPROVER)
    }
    assert "pasted into a ticket" in json.dumps(cards[APPROVER].blocks)
    # The owner is no approver; pressing Approve changes nothing.
    slack.click("Approve", user=OWNER, found=button_in(cards[APPROVER], "Approve"))
    eventually(lambda: [m for m in fake_slack.ephemeral if "Only the approvers" in m.text])
    assert bot.runtime.service.get(1).rotation_stage == "awaiting_approval"

    late = button_in(cards[OTHER_APPROVER], "Deny")  # pressed after the decision, below
    slack.click("Approve", user=APPROVER, found=button_in(cards[APPROVER], "Approve"))
    approved = eventually(lambda: dm(fake_slack, OWNER, "Rotation of acme-infra approved"))[-1]
    for user in (APPROVER, OTHER_APPROVER):
        card = eventually(
            lambda user=user: [
                m
                for m in fake_slack.channel_messages("D" + user)
                if "Rotate the key and secret" in m.text and "Approved by" in json.dumps(m.blocks)
            ]
        )[0]
        assert '"Approve"' not in json.dumps(card.blocks)  # no live button after the decision
    # A late second decision is refused in words.
    slack.click("Deny", user=OTHER_APPROVER, found=late)
    eventually(lambda: [m for m in fake_slack.ephemeral if "was decided already" in m.text])

    # Terraform refuses the change: said in plain words, and nothing changes.
    fake_tfe.fail(
        "PATCH",
        rf"/api/v2/oauth-clients/{client_id}",
        status=422,
        body=error_body(422, "invalid attribute", "Secret is not supported on this version"),
    )
    slack.click(
        "Enter Key and Secret", user=OWNER, found=button_in(approved, "Enter Key and Secret")
    )
    form = slack.wait_for_view(OWNER, lambda v: v.get("callback_id") == "rotate_credentials")
    slack.submit(form, {"Key": NEW_KEY, "Secret": NEW_SECRET}, user=OWNER)
    slack.wait_for_view_text(OWNER, "would not change the client's key and secret")
    assert fake_tfe.clients[client_id].secret != NEW_SECRET
    assert not bot.runtime.service.get(1).repairing

    again = slack.wait_for_view(OWNER, lambda v: v.get("callback_id") == "rotate_credentials")
    slack.submit(again, {"Key": NEW_KEY, "Secret": NEW_SECRET}, user=OWNER)
    slack.wait_for_view_text(OWNER, "Terraform has the new key and secret")
    assert fake_tfe.clients[client_id].secret == NEW_SECRET
    assert bot.runtime.service.get(1).repairing


def test_rotate_every_reminds_the_owner_ahead_and_when_due_then_stops(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(HEALTH_EVERY="0.2", ROTATE_EVERY="3")
    slack = SlackDriver(fake_slack, bot.url)
    connected(slack, fake_slack, fake_tfe, bot)
    set_at = bot.runtime.service.get(1).credentials_set_at
    assert set_at is not None
    first = eventually(lambda: dm(fake_slack, OWNER, "Rotation due"), timeout=10)[0]
    assert "Rotate" in json.dumps(first.blocks)
    now = eventually(
        lambda: [
            m
            for m in dm(fake_slack, OWNER, "Rotation due")
            if "rotation now" in json.dumps(m.blocks)
        ],
        timeout=10,
    )
    assert now
    time.sleep(1.0)  # five more health checks
    told = dm(fake_slack, OWNER, "Rotation due")
    assert 1 <= len(told) <= 2  # ahead (when a check fell in the window), and when due
    assert "rotation soon" in json.dumps(told[0].blocks) or len(told) == 1


def test_a_replayed_rotation_patches_once_and_an_echoed_secret_is_scrubbed(
    make_bot: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    fake_bitbucket: FakeBitbucket,
    log_lines: list[str],
    database_url: str,
) -> None:
    bot = make_bot(HEALTH_EVERY="0.3")
    slack = SlackDriver(fake_slack, bot.url)
    client_id = connected(slack, fake_slack, fake_tfe, bot)
    fake_bitbucket.add_consumer(NEW_KEY, NEW_SECRET, owner="svc-terraform")
    # Terraform refuses, quoting the secret it was sent.
    fake_tfe.fail(
        "PATCH",
        rf"/api/v2/oauth-clients/{client_id}",
        status=422,
        body=error_body(422, "invalid attribute", f"Secret {NEW_SECRET} is invalid", "secret"),
    )
    slack.command("rotate 1", user=OWNER, channel=CHANNEL)
    form = slack.wait_for_view(OWNER, lambda v: v.get("callback_id") == "rotate_credentials")
    slack.submit(form, {"Key": NEW_KEY, "Secret": NEW_SECRET}, user=OWNER)
    refused = slack.wait_for_view_text(OWNER, "[redacted] is invalid")
    assert NEW_SECRET not in json.dumps(refused.view)
    # The same submission delivered three times (Slack retries): one PATCH.
    payload = slack.submission_payload(refused, {"Key": NEW_KEY, "Secret": NEW_SECRET}, OWNER)
    for _ in range(3):
        slack.post_payload(payload)
    slack.wait_for_view_text(OWNER, "Terraform has the new key and secret")
    time.sleep(0.5)
    assert len(patches(fake_tfe, client_id)) == 2  # the refused one, then one for the replays
    # A tampered connection id in the form finds nothing and changes nothing.
    tampered = dict(payload, view=dict(payload["view"], private_metadata='{"connection": 999}'))
    tampered["view"]["hash"] = "another"
    slack.post_payload(tampered)
    time.sleep(0.5)
    assert len(patches(fake_tfe, client_id)) == 2
    bot.runtime.work.shutdown(wait=True)
    assert not [line for line in log_lines if NEW_SECRET in line]
    assert NEW_SECRET not in database_text(database_url)
    assert NEW_SECRET not in fake_slack.all_text()
