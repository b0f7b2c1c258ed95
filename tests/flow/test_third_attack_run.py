"""The third outside attack run's findings (issue 24), each driven through the real endpoint."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.connections.states import State
from bot.connections.upkeep import CannotRepair
from bot.repair.blocks import repairer_view
from tests.fakes.bitbucket import FakeBitbucket
from tests.fakes.slack import FakeSlack, SlackDriver, StoredView
from tests.fakes.tfe import FakeTFE
from tests.flow.steps import (
    CHANNEL,
    OWNER,
    STRANGER,
)
from tests.flow.test_health import APPROVER, channel_says, connected
from tests.flow.test_move import decide_move, first_connection, move_card, replace_connection
from tests.flow.test_reauthorize import KEEPER, button_in, dm
from tests.harness import BotProcess, RunningBot, eventually
from tests.seeds import seeded_move

FORM = "application/x-www-form-urlencoded"
OTHER_APPROVER = "U7OTHER"
LATE = "U6LATE"
ORG = "acme-infra"


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    "body",
    [
        b"command=%2Fconnect-bitbucket",
        b"command=%2Fconnect-bitbucket&user_id=U1OWNER",
        b"command=%2Fconnect-bitbucket&user_id=U1OWNER&team_id=T1&channel_id=C1",
        b"command=%2Fconnect-bitbucket&user_id=&team_id=T1&channel_id=C1&trigger_id=1",
        b"command=%2Fconnect-bitbucket&user_id=U1&user_id=U2&team_id=T1&channel_id=C1&trigger_id=1",
    ],
)
def test_a_signed_command_of_a_shape_slack_never_sends_is_400(
    slack: SlackDriver, body: bytes
) -> None:
    assert slack.post(body, FORM).status_code == 400


# 1. With APPROVERS empty, another member cannot take a connection over.


def test_with_no_approvers_another_member_can_neither_re_authorize_nor_name_himself(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(HEALTH_EVERY="0.3")
    slack = SlackDriver(fake_slack, bot.url)
    client_id = connected(slack, fake_slack, fake_tfe, bot)
    fake_tfe.clients[client_id].tokens.clear()
    broken = eventually(lambda: dm(fake_slack, OWNER, "is broken"), timeout=10)[0]
    slack.click("Re-authorize", user=OWNER, found=button_in(broken, "Re-authorize"))
    steps = eventually(lambda: dm(fake_slack, OWNER, "Re-authorize the Bitbucket connection"))[0]

    # The other member presses Re-authorize too: refused, and no naming form for him.
    slack.click("Re-authorize", user=STRANGER, found=button_in(broken, "Re-authorize"))
    eventually(
        lambda: [
            m
            for m in fake_slack.ephemeral
            if m.user == STRANGER and "who owns connection #1, can re-authorize it" in m.text
        ]
    )
    assert not [v for v in fake_slack.views.values() if v.user == STRANGER]
    # He forges the naming form, naming himself with the real service account: refused.
    form = StoredView(
        id="VFORGED",
        hash="h",
        view=repairer_view(bot.runtime.service.get(1), suggested=STRANGER),
        user=STRANGER,
    )
    payload = slack.submission_payload(
        form,
        {"Who re-authorizes": STRANGER, "Service account (Bitbucket username)": "svc-terraform"},
        STRANGER,
    )
    assert slack.post_payload(payload).status_code == 200
    eventually(
        lambda: any(
            "refused: tried to name who re-authorizes" in (e.note or "")
            for e in bot.runtime.service.events(1)
        )
    )
    # And he opens the owner's Authorize link with a forged click: it is not his token.
    slack.click("Authorize", user=STRANGER, found=button_in(steps, "Authorize"))
    connection = bot.runtime.service.get(1)
    assert connection.repair_by == OWNER and connection.repair_clicked_by is None

    slack.click("Authorize", user=OWNER, found=button_in(steps, "Authorize"))
    eventually(lambda: bot.runtime.service.get(1).repair_clicked_by == OWNER)
    fake_tfe.reauthorize(client_id, user="svc-terraform")
    eventually(lambda: channel_says(fake_slack, "is repaired"), timeout=10)
    assert bot.runtime.service.get(1).owner_id == OWNER
    # The owner still rotates; the other member is refused.
    slack.command("rotate 1", user=STRANGER, channel=CHANNEL)
    eventually(lambda: [m for m in fake_slack.ephemeral if "or an approver can rotate" in m.text])
    assert not fake_tfe.requests_to("PATCH", r"/api/v2/oauth-clients/.*")


# 7. Ownership after a repair: whoever opened the steps that produced the token.


def test_ownership_goes_to_whoever_opened_the_steps_not_to_whoever_was_named_last(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot, slack, client_id, _ = first_connection(make_bot, fake_slack, fake_tfe)
    fake_tfe.clients[client_id].tokens.clear()
    broken = eventually(lambda: dm(fake_slack, OWNER, "is broken"), timeout=10)[0]

    def name(who: str) -> None:
        slack.click("Re-authorize", user=APPROVER, found=button_in(broken, "Re-authorize"))
        form = eventually(
            lambda: [
                v
                for key, v in list(fake_slack.views.items())
                if key not in seen and v.view.get("callback_id") == "name_repairer"
            ]
        )[0]
        seen.add(form.id)
        slack.submit(form, {"Who re-authorizes": who}, user=APPROVER)
        eventually(lambda: dm(fake_slack, who, "Re-authorize the Bitbucket connection"))

    seen: set[Any] = set()
    name(KEEPER)
    steps = dm(fake_slack, KEEPER, "Re-authorize the Bitbucket connection")[0]
    slack.click("Authorize", user=KEEPER, found=button_in(steps, "Authorize"))
    eventually(lambda: bot.runtime.service.get(1).repair_clicked_by == KEEPER)
    name(LATE)  # named after the keeper had opened the link; never opens it
    assert bot.runtime.service.get(1).repair_by == LATE

    fake_tfe.reauthorize(client_id, user="svc-terraform")
    eventually(lambda: channel_says(fake_slack, "is repaired"), timeout=10)
    assert bot.runtime.service.get(1).owner_id == KEEPER
    told = eventually(lambda: dm(fake_slack, OWNER, "is now looked after by <@U5KEEPER>"))
    assert len(told) == 1
    notes = [e.note or "" for e in bot.runtime.service.events(1)]
    assert any("ownership passed from <@U1OWNER> to <@U5KEEPER>" in n for n in notes)


# Nothing here depends on the database: one is enough.
@pytest.mark.sqlite_only
def test_nobody_opened_the_steps_so_the_owner_keeps_the_connection(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot, slack, client_id, _ = first_connection(make_bot, fake_slack, fake_tfe)
    fake_tfe.clients[client_id].tokens.clear()
    broken = eventually(lambda: dm(fake_slack, OWNER, "is broken"), timeout=10)[0]
    slack.click("Re-authorize", user=APPROVER, found=button_in(broken, "Re-authorize"))
    form = slack.wait_for_view(APPROVER, lambda v: v.get("callback_id") == "name_repairer")
    slack.submit(form, {"Who re-authorizes": KEEPER}, user=APPROVER)
    eventually(lambda: dm(fake_slack, KEEPER, "Re-authorize the Bitbucket connection"))
    fake_tfe.reauthorize(client_id, user="svc-terraform")  # from Terraform's own page
    eventually(lambda: channel_says(fake_slack, "is repaired"), timeout=10)
    assert bot.runtime.service.get(1).owner_id == OWNER
    assert not dm(fake_slack, OWNER, "is now looked after")


# 2. A forged Delete old client on a re-authorization's relink (a move to itself).


def reauthorized_under_a_new_id(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> tuple[RunningBot, SlackDriver, str, Any]:
    """Connected, token lost, re-authorized under a new token id: the relink is done."""
    bot = make_bot(HEALTH_EVERY="0.3", APPROVERS=APPROVER)
    slack = SlackDriver(fake_slack, bot.url)
    client_id = connected(slack, fake_slack, fake_tfe, bot)
    token = bot.runtime.service.get(1).oauth_token_id
    for n in range(2):
        fake_tfe.link(ORG, "workspaces", f"ws-{n}", token, identifier=f"acme-team/r{n}")
    fake_tfe.link(ORG, "registry-modules", "network", token, identifier="acme-team/tf-network")
    eventually(lambda: bot.runtime.service.get(1).uses_workspaces == 2, timeout=10)
    fake_tfe.clients[client_id].tokens.clear()
    broken = eventually(lambda: dm(fake_slack, OWNER, "is broken"), timeout=10)[0]
    slack.click("Re-authorize", user=OWNER, found=button_in(broken, "Re-authorize"))
    eventually(lambda: bot.runtime.service.get(1).repairing)
    fake_tfe.reauthorize(client_id)
    report = eventually(lambda: channel_says(fake_slack, "Move of acme-infra done"), timeout=10)
    return bot, slack, client_id, report[0]


def test_a_forged_delete_of_a_self_move_is_refused_and_sends_no_delete(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot, slack, client_id, report = reauthorized_under_a_new_id(make_bot, fake_slack, fake_tfe)
    assert "Delete old client" not in json.dumps(report.blocks)  # the button is not shown
    forged = {
        "type": "button",
        "action_id": "delete_old_client",
        "value": "1",
        "text": {"type": "plain_text", "text": "Delete old client"},
    }
    block = {"type": "actions", "block_id": "move_done", "elements": [forged]}
    slack.post_payload(slack.click_payload(report, block, forged, APPROVER))
    eventually(
        lambda: [m for m in fake_slack.ephemeral if "its OAuth client is the live" in m.text]
    )
    assert not fake_tfe.requests_to("DELETE", r"/api/v2/oauth-clients/.*")
    assert client_id in fake_tfe.clients
    assert bot.runtime.service.get(1).state == "connected"


def test_the_store_refuses_to_claim_a_live_client_whoever_asks(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot, _, _, _ = reauthorized_under_a_new_id(make_bot, fake_slack, fake_tfe)
    refusal = bot.runtime.old_clients.claims.claim_old_client(1, APPROVER)
    assert refusal is not None and "live one" in refusal


# 3. One rotation approval, one PATCH.

NEW_KEY = "fakeRotatedKey0987654"
NEW_SECRET = "fakeRotatedSecretNotReal9876543210"


def approved_rotation(
    make_bot: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    fake_bitbucket: FakeBitbucket,
) -> tuple[RunningBot, SlackDriver, str, Any]:
    """Connected with two approvers; the owner asked to rotate and one approved: returns
    the owner's "approved" DM with its Enter Key and Secret button."""
    bot, slack, client_id, _ = first_connection(make_bot, fake_slack, fake_tfe)
    fake_bitbucket.add_consumer(NEW_KEY, NEW_SECRET, owner="svc-terraform")
    slack.command("rotate 1", user=OWNER, channel=CHANNEL)
    why = slack.wait_for_view(OWNER, lambda v: v.get("callback_id") == "rotate_request")
    slack.submit(why, {"Why rotate?": "The secret leaked."}, user=OWNER)
    card = eventually(lambda: dm(fake_slack, APPROVER, "Rotate the key and secret"))[0]
    with pytest.raises(CannotRepair, match="must approve this rotation first"):
        bot.runtime.rotations.claim_rotation(1, by=OWNER, needs_approval=True)
    slack.click("Approve", user=APPROVER, found=button_in(card, "Approve"))
    approved = eventually(lambda: dm(fake_slack, OWNER, "Rotation of acme-infra approved"))[-1]
    return bot, slack, client_id, approved


def test_two_key_submissions_after_one_approval_send_one_patch(
    make_bot: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    fake_bitbucket: FakeBitbucket,
) -> None:
    bot, slack, client_id, approved = approved_rotation(
        make_bot, fake_slack, fake_tfe, fake_bitbucket
    )
    forms = []
    for _ in range(2):
        before = set(fake_slack.views)
        slack.click(
            "Enter Key and Secret", user=OWNER, found=button_in(approved, "Enter Key and Secret")
        )
        forms.append(
            eventually(
                lambda before=before: [
                    v
                    for key, v in list(fake_slack.views.items())
                    if key not in before and v.view.get("callback_id") == "rotate_credentials"
                ]
            )[0]
        )
    fake_bitbucket.latency = 0.4  # the check takes a while: both submissions are in flight
    payloads = [
        slack.submission_payload(form, {"Key": NEW_KEY, "Secret": NEW_SECRET}, OWNER)
        for form in forms
    ]
    threads = [threading.Thread(target=slack.post_payload, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    eventually(lambda: bot.runtime.service.get(1).repairing, timeout=10)
    eventually(
        lambda: any(
            "on their way to Terraform already" in json.dumps(v.view)
            for v in list(fake_slack.views.values())
        ),
        timeout=10,
    )
    fake_bitbucket.latency = 0.0
    patched = fake_tfe.requests_to("PATCH", rf"/api/v2/oauth-clients/{client_id}")
    assert len(patched) == 1
    notes = [e.note or "" for e in bot.runtime.service.events(1)]
    assert notes.count("rotated the consumer's key and secret in Terraform") == 1


# 4. A rotation submitted after its connection was replaced: refused before any PATCH.


# Nothing here depends on the database: one is enough.
@pytest.mark.sqlite_only
def test_a_rotation_of_a_connection_no_longer_settled_is_refused_before_the_patch(
    make_bot: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    fake_bitbucket: FakeBitbucket,
) -> None:
    bot = make_bot(HEALTH_EVERY="0.3")
    slack = SlackDriver(fake_slack, bot.url)
    client_id = connected(slack, fake_slack, fake_tfe, bot)
    fake_bitbucket.add_consumer(NEW_KEY, NEW_SECRET, owner="svc-terraform")
    slack.command("rotate 1", user=OWNER, channel=CHANNEL)
    form = slack.wait_for_view(OWNER, lambda v: v.get("callback_id") == "rotate_credentials")
    fake_tfe.clients[client_id].tokens.clear()
    eventually(lambda: bot.runtime.service.get(1).state == "broken", timeout=10)
    # A new connection replaces it, as the token watch closes a replaced one.
    bot.runtime.service.advance_to(
        1, State.CANCELLED, actor="bot", note="replaced by connection #2", expect=State.BROKEN
    )

    slack.submit(form, {"Key": NEW_KEY, "Secret": NEW_SECRET}, user=OWNER)
    slack.wait_for_view_text(OWNER, "there is nothing to rotate")
    assert not fake_tfe.requests_to("PATCH", rf"/api/v2/oauth-clients/{client_id}")
    notes = [e.note or "" for e in bot.runtime.service.events(1)]
    assert any(n.startswith("refused a rotation: Connection #1 is cancelled") for n in notes)


# 5. A re-authorization under a new token id after the Re-authorize watch gave up.


# Nothing here depends on the database: one is enough.
@pytest.mark.sqlite_only
def test_a_late_re_authorization_under_a_new_id_relinks_everything_once(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    # EXPIRE_AFTER ends the Re-authorize watch soon, but leaves the first connection room to
    # reach connected on a loaded machine (2 s did not: it expired before its key was sent).
    bot = make_bot(HEALTH_EVERY="0.3", EXPIRE_AFTER="5")
    slack = SlackDriver(fake_slack, bot.url)
    client_id = connected(slack, fake_slack, fake_tfe, bot)
    token = bot.runtime.service.get(1).oauth_token_id
    linked = [
        fake_tfe.link(ORG, "workspaces", f"ws-{n}", token, identifier=f"acme-team/r{n}")
        for n in range(3)
    ]
    eventually(lambda: bot.runtime.service.get(1).uses_workspaces == 3, timeout=10)
    fake_tfe.clients[client_id].tokens.clear()
    broken = eventually(lambda: dm(fake_slack, OWNER, "is broken"), timeout=10)[0]
    slack.click("Re-authorize", user=OWNER, found=button_in(broken, "Re-authorize"))
    eventually(lambda: dm(fake_slack, OWNER, "Stopped waiting"), timeout=15)
    assert not bot.runtime.service.get(1).repairing

    new_token = fake_tfe.reauthorize(client_id)  # later, from Terraform's own page
    assert new_token != token
    eventually(lambda: channel_says(fake_slack, "works again"), timeout=10)
    report = eventually(lambda: channel_says(fake_slack, "Move of acme-infra done"), timeout=10)
    assert "3 of 3 moved" in report[0].text
    for item in linked:
        repo = fake_tfe.linked_item(item)["attributes"]["vcs-repo"]  # type: ignore[index]
        assert repo["oauth-token-id"] == new_token
    patched = [r.path for r in fake_tfe.requests_to("PATCH", r"/api/v2/workspaces/.*")]
    assert len(patched) == len(set(patched)) == 3


# 6. Two approvers press Delete old client at once: one DELETE, one audit row.


def test_two_deletes_at_once_send_one_delete_and_write_one_row(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot, slack, client_id, token = first_connection(make_bot, fake_slack, fake_tfe)
    fake_tfe.link(ORG, "workspaces", "svc-0", token, identifier="acme-team/svc-0")
    eventually(lambda: bot.runtime.service.get(1).uses_workspaces == 1, timeout=10)
    fake_tfe.clients[client_id].tokens.clear()  # the token is gone; the client stays
    replace_connection(slack, fake_slack, fake_tfe, bot, client_id)
    decide_move(slack, fake_slack, APPROVER, "Move workspaces")
    report = eventually(lambda: move_card(fake_slack, APPROVER, "Move of acme-infra done"))[0]
    other = eventually(lambda: move_card(fake_slack, OTHER_APPROVER, "Move of acme-infra done"))[0]
    fake_tfe.latency = 0.3  # every Terraform call takes a while: the presses overlap
    slack.click("Delete old client", user=APPROVER, found=button_in(report, "Delete old client"))
    slack.click(
        "Delete old client", user=OTHER_APPROVER, found=button_in(other, "Delete old client")
    )
    eventually(
        lambda: len([m for m in fake_slack.ephemeral if "the old" in m.text]) == 2, timeout=10
    )
    fake_tfe.latency = 0.0
    assert len(fake_tfe.requests_to("DELETE", r"/api/v2/oauth-clients/.*")) == 1
    assert client_id not in fake_tfe.clients
    rows = [e for e in bot.runtime.service.events(1) if "deleted OAuth client" in (e.note or "")]
    assert len(rows) == 1


# 9. A move nobody is asked to approve: cards, reminders, expiry, crashes.


def test_an_approver_outside_the_channel_gets_a_card_and_a_late_one_hears_who_decided(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot, slack, client_id, token = first_connection(make_bot, fake_slack, fake_tfe)
    fake_tfe.link(ORG, "workspaces", "svc-0", token, identifier="acme-team/svc-0")
    eventually(lambda: bot.runtime.service.get(1).uses_workspaces == 1, timeout=10)
    fake_tfe.clients[client_id].tokens.clear()
    replace_connection(slack, fake_slack, fake_tfe, bot, client_id)
    late = eventually(lambda: move_card(fake_slack, OTHER_APPROVER, "to the new connection?"))[0]
    pressed_late = button_in(late, "Cancel move")  # as it was before the decision
    decide_move(slack, fake_slack, APPROVER, "Move workspaces")
    eventually(lambda: move_card(fake_slack, APPROVER, "Move of acme-infra done"), timeout=20)
    slack.click("Cancel move", user=OTHER_APPROVER, found=pressed_late)
    eventually(
        lambda: [
            m
            for m in fake_slack.ephemeral
            if m.user == OTHER_APPROVER and "already started by <@U9APPROVER>" in m.text
        ]
    )
    for user in (APPROVER, OTHER_APPROVER, OWNER):
        for card in move_card(fake_slack, user, "acme-infra"):
            assert "Move workspaces" not in json.dumps(card.blocks), user


# Nothing here depends on the database: one is enough.
@pytest.mark.sqlite_only
def test_without_approvers_the_owner_decides_on_a_card(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(HEALTH_EVERY="0.3")
    slack = SlackDriver(fake_slack, bot.url)
    client_id = connected(slack, fake_slack, fake_tfe, bot)
    token = bot.runtime.service.get(1).oauth_token_id
    fake_tfe.link(ORG, "workspaces", "svc-0", token, identifier="acme-team/svc-0")
    eventually(lambda: bot.runtime.service.get(1).uses_workspaces == 1, timeout=10)
    fake_tfe.delete_client(client_id)
    replace_connection(slack, fake_slack, fake_tfe, bot, client_id, approval=False)
    # A member who is not the owner cannot start it with a forged press.
    card = eventually(lambda: move_card(fake_slack, OWNER, "to the new connection?"))[0]
    slack.click("Move workspaces", user=STRANGER, found=button_in(card, "Move workspaces"))
    eventually(lambda: [m for m in fake_slack.ephemeral if "the new connection's owner" in m.text])
    assert bot.runtime.moves.get(1).state == "planned"  # type: ignore[union-attr]
    decide_move(slack, fake_slack, OWNER, "Move workspaces")
    eventually(lambda: move_card(fake_slack, OWNER, "Move of acme-infra done"), timeout=20)


# Nothing here depends on the database: one is enough.
@pytest.mark.starts_early
@pytest.mark.sqlite_only
def test_a_planned_move_nobody_decides_is_reminded_then_expires(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(HEALTH_EVERY="0.3", STALL_AFTER="3", REMIND_EVERY="3", EXPIRE_AFTER="9")
    slack = SlackDriver(fake_slack, bot.url)
    client_id = connected(slack, fake_slack, fake_tfe, bot)
    token = bot.runtime.service.get(1).oauth_token_id
    fake_tfe.link(ORG, "workspaces", "svc-0", token, identifier="acme-team/svc-0")
    eventually(lambda: bot.runtime.service.get(1).uses_workspaces == 1, timeout=10)
    fake_tfe.delete_client(client_id)
    replace_connection(slack, fake_slack, fake_tfe, bot, client_id, approval=False)
    first = eventually(lambda: move_card(fake_slack, OWNER, "to the new connection?"))[0]
    # Nobody decides: a reminder after STALL_AFTER, the expiry after EXPIRE_AFTER.
    reminder = eventually(lambda: move_card(fake_slack, OWNER, "Reminder: Move"), timeout=10)
    assert "Reminder 1" in json.dumps(reminder[0].blocks)
    assert "Move workspaces" in json.dumps(reminder[0].blocks)
    eventually(lambda: "Move workspaces" not in json.dumps(first.blocks))  # updated in place
    eventually(lambda: bot.runtime.moves.get(1).state == "expired", timeout=12)  # type: ignore[union-attr]
    eventually(lambda: channel_says(fake_slack, "Move of acme-infra expired"), timeout=10)
    eventually(
        lambda: (
            not [
                m
                for m in fake_slack.channel_messages("D" + OWNER)
                if "Move workspaces" in json.dumps(m.blocks)
            ]
        ),
        timeout=10,
    )
    assert not fake_tfe.requests_to("PATCH", r"/api/v2/workspaces/.*")


CARD = rb"connect_bitbucket_card"
POST = r"/api/chat.postMessage"


def live_move_cards(fake_slack: FakeSlack, user: str) -> list[Any]:
    return [
        m
        for m in fake_slack.channel_messages("D" + user)
        if "Move workspaces" in json.dumps(m.blocks)
    ]


@pytest.mark.starts_early
@pytest.mark.parametrize("replicas", [1, 2])
def test_after_a_kill_mid_move_card_no_card_keeps_live_buttons_after_the_decision(
    env: dict[str, str], fake_slack: FakeSlack, fake_tfe: FakeTFE, tmp_path: Path, replicas: int
) -> None:
    """One replica: it is killed and started again. Two: the other takes over."""
    seeded_move(env["DATABASE_URL"], fake_tfe, 3, start=False)
    # Slack calls time out after 6 s here: a card cut off by the kill may land until then.
    env = {**env, "APPROVERS": f"{APPROVER} {OTHER_APPROVER}", "SLACK_TIMEOUT": "6"}
    # Slack holds the first card 4 s, then takes it; the bot is killed meanwhile.
    fake_slack.fail("POST", POST, mode="drop_after", delay=4, body_contains=CARD)
    log = tmp_path / "bot.log"
    first = BotProcess(env, log).wait_ready()
    other = BotProcess(env, tmp_path / "other.log").wait_ready() if replicas == 2 else None
    eventually(
        lambda: [r for r in fake_slack.requests_to("POST", POST) if CARD in r.body], timeout=15
    )
    first.kill()
    second = other or BotProcess(env, log).wait_ready()
    try:
        slack = SlackDriver(fake_slack, second.url)
        eventually(
            lambda: (
                live_move_cards(fake_slack, APPROVER)
                and live_move_cards(fake_slack, OTHER_APPROVER)
            ),
            timeout=25,
        )
        time.sleep(1)
        found = slack.find_button("Move workspaces", channel="D" + APPROVER)
        slack.click("Move workspaces", user=APPROVER, found=found)
        eventually(
            lambda: (
                not [
                    m
                    for user in (APPROVER, OTHER_APPROVER)
                    for m in live_move_cards(fake_slack, user)
                ]
            ),
            timeout=20,
            message=lambda: repr(
                [
                    (m.channel, m.ts, m.text)
                    for user in (APPROVER, OTHER_APPROVER)
                    for m in live_move_cards(fake_slack, user)
                ]
            ),
        )
        eventually(
            lambda: [
                m
                for m in fake_slack.channel_messages(CHANNEL)
                if "Move of acme-infra done" in m.text
            ],
            timeout=20,
        )
    finally:
        assert second.stop() == 0
