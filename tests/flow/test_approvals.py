"""Approvals and access control, through the real endpoint: every door checked on the server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import pytest

from bot.connections.service import ConnectionNotFound
from tests.fakes.slack import FakeSlack, SlackDriver, StoredView
from tests.fakes.tfe import FakeTFE
from tests.flow.steps import (
    CHANNEL,
    KEY,
    OWNER,
    REASON,
    SECRET,
    SERVICE,
    STRANGER,
    WHY,
    at_callback,
    credentials_form,
    open_form,
    request,
    view_text,
)
from tests.harness import RunningBot, eventually

APPROVER = "U9APPROVER"
SECOND = "U8SECOND"
CREATE = r"/api/v2/organizations/acme-infra/oauth-clients"


def ephemeral_to(fake_slack: FakeSlack, user: str, words: str) -> list:  # type: ignore[type-arg]
    return [
        m
        for m in fake_slack.ephemeral + fake_slack.messages
        if words in m.text and (m.user == user or m.channel == "D" + user)
    ]


def requested(slack: SlackDriver, fake_slack: FakeSlack) -> None:
    _form, answer = request(slack)
    assert answer["response_action"] == "update"
    slack.wait_for_view_text(OWNER, "waits for an approver")


def card_of(fake_slack: FakeSlack, approver: str):  # type: ignore[no-untyped-def]
    return eventually(lambda: fake_slack.channel_messages("D" + approver))[0]


def decision_view(
    slack: SlackDriver, approver: str, label: str, as_user: str | None = None
) -> StoredView:
    found = slack.find_button(label, channel="D" + approver)
    slack.click("", user=as_user or approver, found=found)
    callback = "approve_connection" if label == "Approve" else "deny_connection"
    return slack.wait_for_view(as_user or approver, lambda v: v.get("callback_id") == callback)


def buttons(message) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        e["text"]["text"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]
    ]


def test_approved_request_goes_on_to_the_oauth_client(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(APPROVERS=f"{APPROVER} {SECOND}")
    slack = SlackDriver(fake_slack, bot.url)
    form = open_form(slack)
    assert WHY in view_text(form)
    answer = slack.submit(form, SERVICE)  # no reason: refused on its field
    assert answer["response_action"] == "errors" and "reason" in answer["errors"]
    slack.submit(form, {**SERVICE, WHY: REASON})
    slack.wait_for_view_text(OWNER, "waits for an approver")

    progress = eventually(lambda: fake_slack.channel_messages(CHANNEL))[0]
    eventually(lambda: "Waiting for approval" in json.dumps(progress.blocks))
    body = json.dumps(progress.blocks)
    assert f"<@{APPROVER}>" in body and f"<@{SECOND}>" in body
    assert "Enter Key and Secret" not in body
    for approver in (APPROVER, SECOND):
        card = card_of(fake_slack, approver)
        text = json.dumps(card.blocks)
        assert "acme-infra" in text and f"<@{OWNER}>" in text and REASON in text
        assert "svc-terraform" in text and "Existing Bitbucket Cloud clients" in text
        assert buttons(card) == ["Approve", "Deny"]
    assert not fake_tfe.requests_to("POST", CREATE)

    view = decision_view(slack, APPROVER, "Approve")
    slack.submit(view, {"Comment (optional)": "Fine for the platform team."}, user=APPROVER)
    slack.wait_for_view_text(APPROVER, "You approved")

    # Every card shows the decision, and no button is left on any of them.
    for approver in (APPROVER, SECOND):
        card = card_of(fake_slack, approver)
        eventually(lambda card=card: "Approved" in json.dumps(card.blocks))
        assert buttons(card) == []
        assert f"<@{APPROVER}>" in json.dumps(card.blocks)
        assert "Fine for the platform team." in json.dumps(card.blocks)
    told = eventually(
        lambda: [m for m in fake_slack.channel_messages("D" + OWNER) if "approved" in m.text]
    )[0]
    assert "Fine for the platform team." in json.dumps(told.blocks)
    eventually(lambda: "Enter Key and Secret" in json.dumps(progress.blocks))

    slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
    slack.wait_for_view_text(OWNER, "OAuth client created")
    assert len(fake_tfe.bitbucket_clients("acme-infra")) == 1
    moves = [
        (e.to_state, e.actor) for e in bot.runtime.service.events(1) if e.from_state != e.to_state
    ]
    assert ("approved", APPROVER) in moves and ("awaiting_credentials", APPROVER) in moves


def test_denied_request_tells_the_requester_why_and_creates_nothing(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(APPROVERS=APPROVER)
    slack = SlackDriver(fake_slack, bot.url)
    requested(slack, fake_slack)
    view = decision_view(slack, APPROVER, "Deny")
    answer = slack.submit(view, {}, user=APPROVER)
    assert answer["response_action"] == "errors"  # a denial needs its reason
    slack.submit(
        view, {"Why are you denying it?": "Use the shared <!channel> workspace"}, user=APPROVER
    )
    slack.wait_for_view_text(APPROVER, "You denied")
    told = eventually(
        lambda: [m for m in fake_slack.channel_messages("D" + OWNER) if "denied" in m.text]
    )[0]
    text = json.dumps(told.blocks)
    assert "Use the shared &lt;!channel&gt; workspace" in text and "<!channel>" not in text
    connection = bot.runtime.service.get(1)
    assert connection.state == "denied" and connection.decided_by == APPROVER
    assert not fake_tfe.requests_to("POST", CREATE)
    assert buttons(card_of(fake_slack, APPROVER)) == []
    progress = fake_slack.channel_messages(CHANNEL)[0]
    eventually(lambda: "Denied" in json.dumps(progress.blocks))


def test_nobody_approves_their_own_request(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    bot = make_bot(APPROVERS=f"{OWNER} {APPROVER}")
    slack = SlackDriver(fake_slack, bot.url)
    requested(slack, fake_slack)
    own = card_of(fake_slack, OWNER)
    assert buttons(own) == [] and "your own request" in json.dumps(own.blocks)
    # A forged click: the requester presses the other approver's Approve.
    found = slack.find_button("Approve", channel="D" + APPROVER)
    slack.click("", user=OWNER, found=found)
    eventually(lambda: ephemeral_to(fake_slack, OWNER, "your own request"))
    assert bot.runtime.service.get(1).state == "awaiting_approval"
    assert not [
        v
        for v in fake_slack.views.values()
        if v.user == OWNER and v.view.get("callback_id") == "approve_connection"
    ]
    notes = [e.note or "" for e in bot.runtime.service.events(1)]
    assert any("the requester tried to decide" in n for n in notes)


def test_the_only_approver_is_told_before_starting_what_nobody_could_approve(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    bot = make_bot(APPROVERS=OWNER)
    slack = SlackDriver(fake_slack, bot.url)
    slack.command("acme-infra", user=OWNER, channel=CHANNEL)
    told = eventually(lambda: ephemeral_to(fake_slack, OWNER, "only approver"))
    assert "add another approver" in told[0].text and "/connect-bitbucket" in told[0].text
    assert not fake_slack.views  # no form to fill in for nothing
    # Anyone else may start, and the only approver decides.
    open_form(slack, user=STRANGER)
    with bot.runtime.engine.connect() as db:
        assert db.exec_driver_sql("select count(*) from connections").scalar() == 0


def test_strangers_cannot_decide_by_click_or_by_forged_submission(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    bot = make_bot(APPROVERS=APPROVER)
    slack = SlackDriver(fake_slack, bot.url)
    requested(slack, fake_slack)
    found = slack.find_button("Approve", channel="D" + APPROVER)
    slack.click("", user=STRANGER, found=found)
    eventually(lambda: ephemeral_to(fake_slack, STRANGER, "Only the approvers"))
    # The approver's real modal, submitted by someone else.
    view = decision_view(slack, APPROVER, "Approve")
    payload = slack.submission_payload(view, {}, STRANGER)
    forged = slack.submission_payload(view, {}, APPROVER)
    slack.post_payload(payload)
    eventually(lambda: "Only the approvers" in view_text(fake_slack.views[view.id]))
    # And a made-up id in the metadata.
    forged["view"]["private_metadata"] = json.dumps({"connection": "1 OR 1=1"})
    forged["view"]["hash"] = "forged"
    answer = slack.post_payload(forged)
    assert answer.status_code == 200 and "no longer exists" in answer.text
    assert bot.runtime.service.get(1).state == "awaiting_approval"
    notes = [e.note or "" for e in bot.runtime.service.events(1)]
    assert sum("not an approver" in n for n in notes) == 2


def test_two_approvers_at_once_make_one_decision(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(APPROVERS=f"{APPROVER} {SECOND}")
    slack = SlackDriver(fake_slack, bot.url)
    requested(slack, fake_slack)
    yes = decision_view(slack, APPROVER, "Approve")
    no = decision_view(slack, SECOND, "Deny")
    payloads = [
        slack.submission_payload(yes, {}, APPROVER),
        slack.submission_payload(no, {"Why are you denying it?": "Not now."}, SECOND),
    ]
    barrier = threading.Barrier(2)

    def send(payload: dict) -> None:  # type: ignore[type-arg]
        barrier.wait()
        slack.post_payload(payload)

    threads = [threading.Thread(target=send, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    def outcome(stored: StoredView) -> str | None:
        text = view_text(fake_slack.views[stored.id])
        return text if ("You " in text or "already" in text) else None

    texts = eventually(
        lambda: [outcome(yes), outcome(no)] if outcome(yes) and outcome(no) else None
    )
    connection = bot.runtime.service.get(1)
    assert connection.state in ("awaiting_credentials", "denied")
    winner = connection.decided_by
    loser_text = texts[1] if winner == APPROVER else texts[0]
    assert f"already {'approved' if winner == APPROVER else 'denied'} by <@{winner}>" in loser_text
    decisions = [e for e in bot.runtime.service.events(1) if e.to_state in ("approved", "denied")]
    assert len(decisions) == 1


def test_an_old_button_after_the_decision_gets_a_short_answer(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    bot = make_bot(APPROVERS=f"{APPROVER} {SECOND}")
    slack = SlackDriver(fake_slack, bot.url)
    requested(slack, fake_slack)
    stale = slack.find_button("Approve", channel="D" + SECOND)
    stale = (stale[0], stale[1], dict(stale[2]))
    saved = slack.click_payload(*stale, SECOND)
    view = decision_view(slack, APPROVER, "Approve")
    slack.submit(view, {}, user=APPROVER)
    slack.wait_for_view_text(APPROVER, "You approved")
    response = slack.post_payload(saved)
    assert response.status_code == 200
    eventually(lambda: ephemeral_to(fake_slack, SECOND, f"already approved by <@{APPROVER}>"))
    assert bot.runtime.service.get(1).state == "awaiting_credentials"


def test_pending_approvals_are_reminded_escalated_and_expire(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    bot = make_bot(
        APPROVERS=APPROVER,
        STALL_AFTER="0.5",
        REMIND_EVERY="0.5",
        ESCALATE_AFTER="2",
        EXPIRE_AFTER="6",
    )
    slack = SlackDriver(fake_slack, bot.url)
    requested(slack, fake_slack)

    def only_the_newest_reminder_is_live() -> bool:
        dm = fake_slack.channel_messages("D" + APPROVER)
        reminders = [m for m in dm if "Reminder" in m.text]
        return bool(reminders) and [m for m in dm if buttons(m)] == [reminders[-1]]

    # The buttons moved to the reminder: only the newest message about it is live (a new
    # reminder is live alongside the one before for the moment it takes to retire it).
    eventually(only_the_newest_reminder_is_live)
    assert buttons(fake_slack.channel_messages("D" + APPROVER)[-1]) == ["Approve", "Deny"]
    card = [m for m in fake_slack.channel_messages("D" + APPROVER) if "Reminder" not in m.text]
    assert card and not buttons(card[0]) and "Reminded below" in json.dumps(card[0].blocks)
    escalation = eventually(
        lambda: [
            m for m in fake_slack.channel_messages(CHANNEL) if "waits for a decision" in m.text
        ],
        timeout=10,
    )[0]
    assert f"<@{APPROVER}>" in json.dumps(escalation.blocks)
    eventually(lambda: bot.runtime.service.get(1).state == "expired", timeout=15)
    eventually(lambda: [m for m in fake_slack.channel_messages("D" + OWNER) if "expired" in m.text])
    # No button stays live anywhere in the approver's messages: the card nor any reminder.
    eventually(lambda: not any(buttons(m) for m in fake_slack.channel_messages("D" + APPROVER)))
    notes = [e.note or "" for e in bot.runtime.service.events(1)]
    assert any("reminded the approvers" in n for n in notes)
    reminders = [n for n in bot.runtime.notices.of(1) if n.kind == "reminder"]
    assert len({n.slot_at for n in reminders}) == len(reminders)  # once per interval


def test_no_reminder_comes_before_the_request_itself(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    """The card is owed but Slack refuses it for a while: reminders fall due meanwhile, but
    the approver's first message is still the request, and only one message has buttons."""
    bot = make_bot(APPROVERS=APPROVER, STALL_AFTER="0.3", REMIND_EVERY="0.3")
    slack = SlackDriver(fake_slack, bot.url)
    dm = "D" + APPROVER
    fake_slack.unpostable.add(dm)
    requested(slack, fake_slack)
    eventually(lambda: [c for c in fake_slack.calls_to("chat.postMessage") if c["channel"] == dm])
    time.sleep(1.0)  # several reminder intervals pass while the card is refused
    fake_slack.unpostable.discard(dm)
    eventually(lambda: len(fake_slack.channel_messages(dm)) >= 2, timeout=15)
    first = fake_slack.channel_messages(dm)[0]
    assert first.text.startswith("Approval needed")
    eventually(
        lambda: (
            [m for m in fake_slack.channel_messages(dm) if buttons(m)]
            == [fake_slack.channel_messages(dm)[-1]]
        )
    )
    assert bot.runtime.service.get(1).state == "awaiting_approval"


@pytest.mark.parametrize(
    "flags",
    [{"is_restricted": True}, {"is_ultra_restricted": True}, {"is_bot": True}, {"deleted": True}],
)
def test_guests_bots_and_deactivated_users_may_not_start(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, flags: dict[str, bool]
) -> None:
    bot = make_bot()
    slack = SlackDriver(fake_slack, bot.url)
    fake_slack.user_flags[STRANGER] = flags
    slack.command("acme-infra", user=STRANGER, channel=CHANNEL)
    eventually(lambda: ephemeral_to(fake_slack, STRANGER, "full members"))
    assert not [v for v in fake_slack.views.values() if v.user == STRANGER]


def test_a_guest_submitting_a_form_anyway_is_refused(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot()
    slack = SlackDriver(fake_slack, bot.url)
    form = open_form(slack)
    fake_slack.user_flags[STRANGER] = {"is_restricted": True}
    slack.post_payload(slack.submission_payload(form, SERVICE, STRANGER))
    eventually(lambda: "full members" in view_text(fake_slack.views[form.id]))
    assert not fake_slack.channel_messages(CHANNEL)
    with pytest.raises(ConnectionNotFound):
        bot.runtime.service.get(1)


def test_an_organization_outside_organizations_is_refused_on_its_field(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    bot = make_bot(ORGANIZATIONS="acme-prod-*, other")
    slack = SlackDriver(fake_slack, bot.url)
    _form, answer = request(slack)
    assert answer["response_action"] == "errors"
    assert "acme-prod-*" in answer["errors"]["organization"]
    assert not fake_slack.channel_messages(CHANNEL)


def failed(slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE, bot: RunningBot):  # type: ignore[no-untyped-def]
    progress = at_callback(slack, fake_slack, fake_tfe)
    slack.click("I've updated the callback URL", user=OWNER)
    authorize = slack.find_button("Authorize")
    client_id = bot.runtime.service.get(1).oauth_client_id
    fake_tfe.clients.pop(client_id)  # deleted in TFE: the token watch fails the connection
    slack.click("Authorize", user=OWNER, found=authorize)
    eventually(lambda: bot.runtime.service.get(1).state == "failed")
    eventually(lambda: "Start over" in json.dumps(progress.blocks))
    return progress


def test_start_over_by_someone_not_allowed_is_refused(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(ALLOWED_USERS=OWNER)
    slack = SlackDriver(fake_slack, bot.url)
    failed(slack, fake_slack, fake_tfe, bot)
    slack.click("Start over", user=STRANGER)
    eventually(lambda: ephemeral_to(fake_slack, STRANGER, "ALLOWED_USERS"))
    assert not [v for v in fake_slack.views.values() if v.user == STRANGER]
    assert bot.runtime.service.get(1).state == "failed"


def test_start_over_by_the_owner_supersedes_the_failed_connection(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot()
    slack = SlackDriver(fake_slack, bot.url)
    progress = failed(slack, fake_slack, fake_tfe, bot)
    slack.click("Start over", user=OWNER)
    form = slack.wait_for_view(OWNER, lambda v: v.get("callback_id") == "connect_request")
    assert "acme-infra" in view_text(form)
    slack.submit(form, SERVICE)
    eventually(lambda: "is under way" in view_text(fake_slack.views[form.id]))
    assert bot.runtime.service.get(1).state == "cancelled"
    assert bot.runtime.service.get(2).state == "awaiting_credentials"
    eventually(lambda: "Superseded" in json.dumps(progress.blocks))
    notes = [e.note or "" for e in bot.runtime.service.events(1)]
    assert any("superseded by connection #2" in n for n in notes)
