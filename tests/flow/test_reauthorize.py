"""Day two, repair in place: Re-authorize on the same OAuth client instead of a new
connection, for a lost token, the wrong account, and an owner who left."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE
from tests.flow.steps import (
    CHANNEL,
    KEY,
    OWNER,
    REASON,
    SECRET,
    STRANGER,
    WHY,
    approve,
    credentials_form,
    open_form,
    started,
)
from tests.flow.test_health import APPROVER, PERSONAL, channel_says, connected
from tests.harness import RunningBot, eventually

KEEPER = "U5KEEPER"


def dm(fake_slack: FakeSlack, user: str, words: str) -> list[Any]:
    return [m for m in fake_slack.channel_messages("D" + user) if words in m.text]


def button_in(message: Any, label: str) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    for block in message.blocks:
        for element in block.get("elements") or []:
            if element.get("type") == "button" and element["text"]["text"] == label:
                return message, block, element
    raise AssertionError(f"no {label!r} button in {message.text!r}")


def test_a_lost_token_is_repaired_in_place_and_keeps_every_workspace(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(HEALTH_EVERY="0.3", APPROVERS=APPROVER)
    slack = SlackDriver(fake_slack, bot.url)
    client_id = connected(slack, fake_slack, fake_tfe, bot)
    token = bot.runtime.service.get(1).oauth_token_id
    linked = [fake_tfe.link("acme-infra", "workspaces", f"ws-{n}", token) for n in range(3)]
    eventually(lambda: bot.runtime.service.get(1).uses_workspaces == 3, timeout=10)

    fake_tfe.clients[client_id].tokens.clear()
    broken = eventually(lambda: dm(fake_slack, OWNER, "is broken"), timeout=10)[0]
    text = json.dumps(broken.blocks)
    assert "Re-authorize" in text and "the 3 workspaces stay linked" in text, text
    # Someone who is neither the owner nor an approver is refused, and nothing starts.
    slack.click("Re-authorize", user=STRANGER, found=button_in(broken, "Re-authorize"))
    eventually(
        lambda: [m for m in fake_slack.ephemeral if "or an approver can re-authorize" in m.text]
    )
    assert not bot.runtime.service.get(1).repairing

    slack.click("Re-authorize", user=OWNER, found=button_in(broken, "Re-authorize"))
    steps = eventually(lambda: dm(fake_slack, OWNER, "Re-authorize the Bitbucket connection"))[0]
    _, _, providers = button_in(steps, "Open VCS providers")
    assert providers["url"] == f"{fake_tfe.url}/app/acme-infra/settings/version-control"
    assert "svc-terraform" in json.dumps(steps.blocks)  # as which account
    slack.click("Open VCS providers", user=OWNER, found=button_in(steps, "Open VCS providers"))

    # Terraform re-issues the token under its old id: nothing needs relinking.
    assert fake_tfe.reauthorize(client_id, same_id=True) == token
    eventually(lambda: bot.runtime.service.get(1).state == "connected", timeout=10)
    told = eventually(lambda: channel_says(fake_slack, "is repaired"))[0]
    assert "3 workspaces kept" in told.text
    connection = bot.runtime.service.get(1)
    assert connection.oauth_token_id == token and not connection.repairing
    assert len(fake_tfe.bitbucket_clients("acme-infra")) == 1  # no new client
    assert fake_tfe.requests_to("PATCH", r"/api/v2/workspaces/.*") == []  # untouched
    assert "works again" not in json.dumps([m.text for m in fake_slack.messages])
    notes = [e.note or "" for e in bot.runtime.service.events(1)]
    assert any("asked <@U1OWNER> to re-authorize" in n for n in notes)
    assert any(n.startswith("re-authorized by <@U1OWNER> as svc-terraform") for n in notes)
    assert len(linked) == 3


def test_a_new_token_id_moves_what_named_the_old_one_without_asking(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(HEALTH_EVERY="0.3", APPROVERS=APPROVER)
    slack = SlackDriver(fake_slack, bot.url)
    client_id = connected(slack, fake_slack, fake_tfe, bot)
    token = bot.runtime.service.get(1).oauth_token_id
    linked = [
        fake_tfe.link("acme-infra", "workspaces", f"ws-{n}", token, identifier=f"acme-team/r{n}")
        for n in range(3)
    ]
    other = fake_tfe.link("acme-infra", "workspaces", "elsewhere", "ot-someone-else")
    eventually(lambda: bot.runtime.service.get(1).uses_workspaces == 3, timeout=10)
    fake_tfe.clients[client_id].tokens.clear()
    broken = eventually(lambda: dm(fake_slack, OWNER, "is broken"), timeout=10)[0]
    slack.click("Re-authorize", user=OWNER, found=button_in(broken, "Re-authorize"))
    eventually(lambda: bot.runtime.service.get(1).repairing)

    new_token = fake_tfe.reauthorize(client_id)  # a new id this time
    assert new_token != token
    eventually(lambda: channel_says(fake_slack, "is repaired"), timeout=10)
    report = eventually(lambda: channel_says(fake_slack, "Move of acme-infra done"), timeout=10)
    assert "3 of 3 moved" in report[0].text
    assert not channel_says(fake_slack, "to the new connection?")  # nobody was asked
    for item in linked:
        assert fake_tfe.linked_item(item)["attributes"]["vcs-repo"]["oauth-token-id"] == new_token  # type: ignore[index]
    assert (
        fake_tfe.linked_item(other)["attributes"]["vcs-repo"]["oauth-token-id"] == "ot-someone-else"
    )  # type: ignore[index]


def test_the_wrong_account_is_fixed_by_reauthorizing_under_the_same_token_id(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(HEALTH_EVERY="0.3")
    slack = SlackDriver(fake_slack, bot.url)
    started(slack, fake_slack)
    slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
    slack.wait_for_view_text(OWNER, "OAuth client created")
    slack.click("Authorize", user=OWNER, found=slack.find_button("Authorize"))
    client_id = fake_tfe.bitbucket_clients("acme-infra")[0].id
    token = fake_tfe.authorize(client_id, user="jane-personal")
    wrong = eventually(lambda: dm(fake_slack, OWNER, "wrong Bitbucket account"))[0]
    slack.click("Re-authorize", user=OWNER, found=button_in(wrong, "Re-authorize"))
    eventually(lambda: dm(fake_slack, OWNER, "Re-authorize the Bitbucket connection"))

    # Still the wrong account: the same rule says so again, and the watch ends.
    fake_tfe.reauthorize(client_id, user="jane-personal", same_id=True)
    eventually(lambda: len(dm(fake_slack, OWNER, "wrong Bitbucket account")) == 2, timeout=10)
    assert bot.runtime.service.get(1).wrong_account

    again = dm(fake_slack, OWNER, "wrong Bitbucket account")[-1]
    slack.click("Re-authorize", user=OWNER, found=button_in(again, "Re-authorize"))
    eventually(lambda: bot.runtime.service.get(1).repairing)
    assert fake_tfe.reauthorize(client_id, user="svc-terraform", same_id=True) == token
    eventually(lambda: not bot.runtime.service.get(1).repairing, timeout=10)
    connection = bot.runtime.service.get(1)
    assert connection.authorized_as == "svc-terraform" and not connection.wrong_account
    assert connection.oauth_token_id == token  # same id, made anew: noticed all the same
    eventually(lambda: len(channel_says(fake_slack, "is repaired")) == 2)


def test_an_owner_who_left_is_replaced_by_whom_an_approver_names(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(HEALTH_EVERY="0.3", APPROVERS=f"{APPROVER} U7OTHER")
    slack = SlackDriver(fake_slack, bot.url)
    slack.submit(open_form(slack), {**PERSONAL, WHY: REASON})
    slack.wait_for_view_text(OWNER, "waits for an approver")
    approve(slack)
    slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
    slack.wait_for_view_text(OWNER, "OAuth client created")
    slack.click("Authorize", user=OWNER, found=slack.find_button("Authorize"))
    client_id = fake_tfe.bitbucket_clients("acme-infra")[0].id
    fake_tfe.authorize(client_id, user="jane-personal")
    eventually(lambda: bot.runtime.service.get(1).state == "connected")

    fake_slack.user_flags[OWNER] = {"deleted": True}
    left = eventually(lambda: channel_says(fake_slack, "depends on someone who left"), timeout=10)
    slack.click("Re-authorize", user=STRANGER, found=button_in(left[0], "Re-authorize"))
    eventually(
        lambda: [m for m in fake_slack.ephemeral if "or an approver can re-authorize" in m.text]
    )
    slack.click("Re-authorize", user=APPROVER, found=button_in(left[0], "Re-authorize"))
    form = slack.wait_for_view(APPROVER, lambda v: v.get("callback_id") == "name_repairer")
    # A username that is not one is refused on its field, and nothing starts.
    answer = slack.submit(
        form,
        {"Who re-authorizes": KEEPER, "Service account (Bitbucket username)": "not a name!"},
        user=APPROVER,
    )
    assert answer["response_action"] == "errors" and "repair_username" in answer["errors"]
    assert not bot.runtime.service.get(1).repairing
    slack.submit(
        form,
        {"Who re-authorizes": KEEPER, "Service account (Bitbucket username)": "svc-terraform"},
        user=APPROVER,
    )
    steps = eventually(lambda: dm(fake_slack, KEEPER, "Re-authorize the Bitbucket connection"))
    assert "svc-terraform" in json.dumps(steps[0].blocks)
    assert bot.runtime.service.get(1).owner_id == OWNER  # nothing changes until it is done
    slack.click("Authorize", user=KEEPER, found=button_in(steps[0], "Authorize"))
    eventually(lambda: bot.runtime.service.get(1).repair_clicked_by == KEEPER)

    fake_tfe.reauthorize(client_id, user="svc-terraform")
    eventually(lambda: channel_says(fake_slack, "is repaired"), timeout=10)
    connection = bot.runtime.service.get(1)
    assert connection.owner_id == KEEPER
    assert connection.account_kind == "service_account"
    assert connection.bitbucket_username == "svc-terraform" and not connection.rests_on_a_person
    assert connection.authorized_as == "svc-terraform"
    slack.command("status 1", user=KEEPER, channel=CHANNEL)
    eventually(
        lambda: [
            m
            for m in fake_slack.ephemeral
            if m.user == KEEPER and "svc-terraform" in json.dumps(m.blocks)
        ]
    )


def test_a_deleted_client_offers_reconnect_only_and_a_tampered_button_changes_nothing(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(HEALTH_EVERY="0.3")
    slack = SlackDriver(fake_slack, bot.url)
    client_id = connected(slack, fake_slack, fake_tfe, bot)
    fake_tfe.delete_client(client_id)
    broken = eventually(lambda: channel_says(fake_slack, "is broken"), timeout=10)[0]
    labels = json.dumps(broken.blocks)
    assert "Reconnect" in labels and "Re-authorize" not in labels
    # A forged Re-authorize for it (the button exists on no message) is refused in words.
    message, block, _ = button_in(broken, "Reconnect")
    forged = {"type": "button", "action_id": "reauthorize", "value": "1", "text": {}}
    payload = slack.click_payload(
        message, block, forged | {"text": {"type": "plain_text", "text": "x"}}, OWNER
    )
    slack.post_payload(payload)
    eventually(lambda: [m for m in fake_slack.ephemeral if "cannot be re-authorized" in m.text])
    assert not bot.runtime.service.get(1).repairing
    # And a tampered id finds nothing.
    payload = slack.click_payload(
        message,
        block,
        forged | {"value": "99999", "text": {"type": "plain_text", "text": "x"}},
        OWNER,
    )
    slack.post_payload(payload)
    eventually(lambda: [m for m in fake_slack.ephemeral if "no longer exists" in m.text])


def test_an_owner_made_a_guest_cannot_re_authorize_or_rotate(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(HEALTH_EVERY="0.3")
    slack = SlackDriver(fake_slack, bot.url)
    client_id = connected(slack, fake_slack, fake_tfe, bot)
    fake_tfe.clients[client_id].tokens.clear()
    broken = eventually(lambda: dm(fake_slack, OWNER, "is broken"), timeout=10)[0]
    fake_slack.user_flags[OWNER] = {"is_restricted": True}
    slack.event({"type": "user_change", "user": fake_slack.person(OWNER)})
    eventually(lambda: bot.runtime.directory.known(OWNER) is False)
    slack.click("Re-authorize", user=OWNER, found=button_in(broken, "Re-authorize"))
    eventually(lambda: [m for m in fake_slack.ephemeral if "Only full members" in m.text])
    slack.command("rotate 1", user=OWNER, channel="C1CHAN")
    eventually(lambda: len([m for m in fake_slack.ephemeral if "Only full members" in m.text]) == 2)
    assert not bot.runtime.service.get(1).repairing
    assert not fake_tfe.requests_to("PATCH", r"/api/v2/oauth-clients/.*")
