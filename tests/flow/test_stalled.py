"""Keeping after people: reminders, Resume and Cancel, escalation, expiry and clean-up."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta

from tests.fakes.slack import FakeSlack, Message, SlackDriver, zone_at_hour
from tests.fakes.tfe import FakeTFE
from tests.flow.steps import CHANNEL, OWNER, STRANGER, at_callback, started
from tests.harness import RunningBot, eventually

APPROVER = "U9APPROVER"
FAST = {
    "STALL_AFTER": "0.6",
    "REMIND_EVERY": "0.6",
    "ESCALATE_AFTER": "2",
    "EXPIRE_AFTER": "6",
    "APPROVERS": f"{APPROVER} S0LEADS",
}


def dms(fake_slack: FakeSlack, user: str, words: str) -> list:  # type: ignore[type-arg]
    return [m for m in fake_slack.channel_messages("D" + user) if words in m.text]


def test_stalled_owner_is_reminded_escalated_and_the_connection_expires(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    fake_slack.user_groups["S0LEADS"] = ["U8LEAD"]
    bot = make_bot(**FAST)
    slack = SlackDriver(fake_slack, bot.url)
    progress = started(slack, fake_slack)

    first = eventually(lambda: dms(fake_slack, OWNER, "Reminder"))[0]
    text = json.dumps(first.blocks)
    assert "acme-infra" in text and "step 1" in text and "Next:" in text
    labels = [
        e["text"]["text"] for b in first.blocks if b["type"] == "actions" for e in b["elements"]
    ]
    assert labels == ["Resume", "Cancel connection"]

    # Resume brings back the current step: the Key and Secret form.
    slack.click("Resume", user=OWNER, found=slack.find_button("Resume"))
    slack.wait_for_view(OWNER, lambda v: v.get("callback_id") == "connect_credentials")

    # After ESCALATE_AFTER reminders: the channel and the approver hear of it, once.
    escalation = eventually(
        lambda: [
            m for m in fake_slack.channel_messages(CHANNEL) if "no progress" in json.dumps(m.blocks)
        ],
        timeout=10,
    )
    assert len(escalation) == 1
    said = json.dumps(escalation[0].blocks)
    assert f"<@{OWNER}>" in said and f"<@{APPROVER}>" in said and "2 reminders" in said
    assert "<!subteam^S0LEADS>" in said  # the approver group is mentioned in the channel
    eventually(lambda: dms(fake_slack, APPROVER, "stalled"))
    eventually(lambda: dms(fake_slack, "U8LEAD", "stalled"))  # and its members get a DM

    # Then it expires: nothing to clean up, and the owner is told.
    ended = eventually(lambda: dms(fake_slack, OWNER, "expired"), timeout=15)[0]
    assert "No OAuth client had been created" in json.dumps(ended.blocks)
    eventually(lambda: "Expired after" in json.dumps(progress.blocks))
    assert bot.runtime.service.get(1).state == "expired"
    eventually(lambda: bot.runtime.service.get(1).next_due_at is None)  # nothing due any more

    # Every notice is on record, once per interval.
    notices = bot.runtime.notices.of(1)
    # Under load the approval step itself may stall long enough for an approvers' reminder;
    # the owner's are the ones this test is about.
    reminders = [n for n in notices if n.kind == "reminder" and n.recipients == OWNER]
    assert len(reminders) == len({n.slot_at for n in reminders}) >= 3
    # Each claimed slot's reminder is delivered (one may still be on its way to Slack).
    eventually(lambda: len(dms(fake_slack, OWNER, "Reminder")) == len(reminders))
    assert all(n.recipients == OWNER for n in reminders)
    escalations = [n for n in notices if n.kind == "escalation"]
    assert len(escalations) == 1
    assert escalations[0].recipients == f"{CHANNEL},{APPROVER},S0LEADS"
    steps = [(e.from_state, e.to_state) for e in bot.runtime.service.events(1)]
    assert steps[-1] == ("awaiting_credentials", "expired")


def test_expiry_deletes_exactly_the_orphaned_client(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(STALL_AFTER="100", EXPIRE_AFTER="4")  # room to reach the callback step first
    slack = SlackDriver(fake_slack, bot.url)
    at_callback(slack, fake_slack, fake_tfe)
    other = fake_tfe.add_client_by_hand("acme-infra")  # not the bot's: must survive
    mine = bot.runtime.service.get(1).oauth_client_id
    ended = eventually(lambda: dms(fake_slack, OWNER, "expired"), timeout=10)[0]
    assert f"deleted the OAuth client {mine}" in json.dumps(ended.blocks)
    assert mine not in fake_tfe.clients and other in fake_tfe.clients
    assert fake_tfe.requests_to("DELETE", rf"/api/v2/oauth-clients/{mine}")


def test_expiry_keeps_a_client_that_has_a_token(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(STALL_AFTER="100", EXPIRE_AFTER="4")  # room to reach the callback step first
    slack = SlackDriver(fake_slack, bot.url)
    at_callback(slack, fake_slack, fake_tfe)
    client_id = bot.runtime.service.get(1).oauth_client_id
    assert client_id
    fake_tfe.authorize(client_id)  # authorized from TFE's own UI; step 3 never confirmed
    ended = eventually(lambda: dms(fake_slack, OWNER, "expired"), timeout=10)[0]
    assert "was kept: Terraform holds a token" in json.dumps(ended.blocks)
    assert client_id in fake_tfe.clients
    assert not fake_tfe.requests_to("DELETE", r"/api/v2/oauth-clients/.*")


def test_cancel_cleans_up_and_only_the_owner_or_an_approver_may(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(APPROVERS=APPROVER)
    slack = SlackDriver(fake_slack, bot.url)
    progress = at_callback(slack, fake_slack, fake_tfe)
    client_id = bot.runtime.service.get(1).oauth_client_id
    _, _block, button = slack.find_button("Cancel connection")
    assert (
        button["style"] == "danger" and button["confirm"]["confirm"]["text"] == "Cancel connection"
    )

    slack.command("cancel 1", user=STRANGER)
    refusal = eventually(lambda: [m for m in fake_slack.ephemeral if m.user == STRANGER])[0]
    assert "Only <@U1OWNER>" in refusal.text
    assert bot.runtime.service.get(1).state == "awaiting_callback"
    assert "Say which connection" in slack.command("cancel", user=OWNER).text

    slack.click("Cancel connection", user=OWNER)
    done = eventually(
        lambda: [m for m in fake_slack.ephemeral if m.user == OWNER and "is cancelled" in m.text]
    )[0]
    assert f"deleted the OAuth client {client_id}" in done.text
    assert client_id not in fake_tfe.clients
    eventually(lambda: "Cancelled by @u1owner" in json.dumps(progress.blocks))
    assert "Start over" in json.dumps(progress.blocks)
    slack.command("cancel 1", user=APPROVER)
    eventually(
        lambda: [
            m for m in fake_slack.ephemeral if m.user == APPROVER and "already ended" in m.text
        ]
    )


def test_approver_may_cancel_and_the_owner_hears_of_it(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    bot = make_bot(APPROVERS=APPROVER)
    slack = SlackDriver(fake_slack, bot.url)
    started(slack, fake_slack)
    slack.command("cancel #1", user=APPROVER)
    eventually(lambda: bot.runtime.service.get(1).state == "cancelled")
    eventually(lambda: dms(fake_slack, OWNER, "was cancelled"))


def test_a_reminder_due_in_the_owners_night_waits_for_the_morning(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    fake_slack.user_tz[OWNER] = zone_at_hour(2)
    bot = make_bot(STALL_AFTER="0.3", REMIND_EVERY="0.3")
    slack = SlackDriver(fake_slack, bot.url)
    started(slack, fake_slack)
    now = bot.runtime.flow.clock.now()
    eventually(lambda: (bot.runtime.service.get(1).next_due_at or now) > now + timedelta(hours=5))
    connection = bot.runtime.service.get(1)
    assert connection.owner_tz == zone_at_hour(2)
    local = connection.next_due_at.astimezone(__import__("zoneinfo").ZoneInfo(connection.owner_tz))
    assert (local.hour, local.minute) == (9, 0)
    time.sleep(0.5)
    assert not dms(fake_slack, OWNER, "Reminder")
    assert not bot.runtime.notices.of(1)


def test_progress_resets_the_stall_clock(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(STALL_AFTER="1.5", REMIND_EVERY="100")
    slack = SlackDriver(fake_slack, bot.url)
    at_callback(slack, fake_slack, fake_tfe)  # moved on within STALL_AFTER
    connection = bot.runtime.service.get(1)
    assert connection.progressed_at > connection.created_at

    # On a loaded machine the setup can outlast STALL_AFTER and meet a step-2 reminder first;
    # the reset is what makes a step-3 reminder come STALL_AFTER after the progress.
    def at_step_3() -> list[Message]:
        return [m for m in dms(fake_slack, OWNER, "Reminder") if "step 3" in json.dumps(m.blocks)]

    eventually(at_step_3, timeout=10)
    slack.click("Resume", user=OWNER, found=slack.find_button("Resume"))
    step = eventually(lambda: dms(fake_slack, OWNER, "where you left off"))[0]
    assert "I've updated the callback URL" in json.dumps(step.blocks)
