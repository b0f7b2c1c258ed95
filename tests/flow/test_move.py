"""Day two, move: a new connection replaces a broken one; the dry run lists what used the
old client (from the bot's kept list), an approver starts it, each item is relinked once in
the bulk lane, the report names every failure, and the old client is deleted only when
nothing uses it."""

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
    SERVICE,
    WHY,
    approve,
)
from tests.flow.test_health import APPROVER, connected
from tests.flow.test_reauthorize import button_in
from tests.harness import RunningBot, eventually

ORG = "acme-infra"
OTHER_APPROVER = "U7OTHER"


def channel(fake_slack: FakeSlack, words: str) -> list[Any]:
    return [m for m in fake_slack.channel_messages(CHANNEL) if words in m.text]


def move_card(fake_slack: FakeSlack, user: str, words: str) -> list[Any]:
    """The user's cards about a move (in their DM with the bot) that say `words`."""
    return [m for m in fake_slack.channel_messages("D" + user) if words in m.text]


def decide_move(slack: SlackDriver, fake_slack: FakeSlack, user: str, label: str) -> Any:
    """Press Move workspaces (or Cancel move) on the user's card; returns the card."""
    card = eventually(lambda: move_card(fake_slack, user, "to the new connection?"), timeout=10)
    slack.click(label, user=user, found=button_in(card[-1], label))
    return card[-1]


def replace_connection(
    slack: SlackDriver,
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    bot: RunningBot,
    old: str,
    *,
    approval: bool = True,
    **more: str,
) -> str:
    """Reconnect the broken #1 and carry #2 to connected (through an approver's approval,
    unless `approval` is off: no APPROVERS); returns #2's token id."""
    broken = eventually(lambda: channel(fake_slack, "is broken"), timeout=10)[0]
    slack.click("Reconnect", user=OWNER, found=button_in(broken, "Reconnect"))
    form = slack.wait_for_view(
        OWNER, lambda v: v.get("callback_id") == "connect_request" and "acme-team" in json.dumps(v)
    )
    if approval:
        slack.submit(form, {**SERVICE, WHY: REASON, **more})
        slack.wait_for_view_text(OWNER, "waits for an approver")
        approve(slack)
    else:
        slack.submit(form, {**SERVICE, **more})
    seen = set(fake_slack.views)
    slack.click("Enter Key and Secret", user=OWNER)
    credentials = eventually(
        lambda: [
            v
            for key, v in list(fake_slack.views.items())
            if key not in seen and v.view.get("callback_id") == "connect_credentials"
        ]
    )[0]
    slack.submit(credentials, {"Key": KEY, "Secret": SECRET})
    new = eventually(lambda: [c for c in fake_tfe.bitbucket_clients(ORG) if c.id != old])[0]
    # The owner opens connection #2's Authorize link first, as people do: unclicked, the bot
    # looks for its token once a minute, and on a loaded machine its first look could come
    # before the authorization below.
    slack.click("Authorize", user=OWNER, found=slack.find_button("Authorize", value="2"))
    token = fake_tfe.authorize(new.id)
    eventually(lambda: bot.runtime.service.get(2).state == "connected", timeout=10)
    return token


def first_connection(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> tuple[RunningBot, SlackDriver, str, str]:
    from tests.flow.steps import open_form

    bot = make_bot(HEALTH_EVERY="0.3", APPROVERS=f"{APPROVER} {OTHER_APPROVER}")
    slack = SlackDriver(fake_slack, bot.url)
    slack.submit(open_form(slack), {**SERVICE, WHY: REASON})
    slack.wait_for_view_text(OWNER, "waits for an approver")
    approve(slack)
    client_id = connected(slack, fake_slack, fake_tfe, bot, values=False)
    token = bot.runtime.service.get(1).oauth_token_id
    assert token
    return bot, slack, client_id, token


def test_a_deleted_client_is_replaced_and_what_it_unlinked_is_relinked_from_the_kept_list(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot, slack, client_id, token = first_connection(make_bot, fake_slack, fake_tfe)
    workspaces = [
        fake_tfe.link(ORG, "workspaces", f"app-{n:02d}", token, identifier=f"acme-team/app-{n:02d}")
        for n in range(30)
    ]
    policy_sets = [
        fake_tfe.link(ORG, "policy-sets", f"policies-{n}", token, identifier="acme-team/policies")
        for n in range(2)
    ]
    fake_tfe.link(
        ORG, "registry-modules", "network", token, identifier="acme-team/terraform-aws-network"
    )
    eventually(lambda: bot.runtime.service.get(1).uses_workspaces == 30, timeout=10)

    fake_tfe.delete_client(client_id)  # as TFE does: all 33 are unlinked
    assert fake_tfe.linked_item(workspaces[0])["attributes"]["vcs-repo"] is None  # type: ignore[index]
    fake_tfe.refused_relinks.add("acme-team/app-07")  # its relink is refused (access lost)
    new_token = replace_connection(slack, fake_slack, fake_tfe, bot, client_id)

    dry = eventually(lambda: channel(fake_slack, "to the new connection?"), timeout=10)[0]
    said_in_channel = json.dumps(dry.blocks, ensure_ascii=False)
    assert "Dry run:* 32 would be pointed" in said_in_channel
    assert "app-00" not in said_in_channel and "acme-team/" not in said_in_channel  # no names
    assert "Move workspaces" not in said_in_channel  # decided on the cards
    card = eventually(lambda: move_card(fake_slack, APPROVER, "to the new connection?"))[0]
    text = json.dumps(card.blocks, ensure_ascii=False)
    assert "Dry run:* 32 would be pointed" in text
    assert "app-00" in text and "acme-team/app-00" in text and "app-19" in text
    assert "…and 12 more" in text  # 20 shown of 32
    assert "1 registry module also used the old client" in text
    # The owner has the list too, without the buttons; each approver has a card.
    own = eventually(lambda: move_card(fake_slack, OWNER, "to the new connection?"))[0]
    assert "app-00" in json.dumps(own.blocks) and "Move workspaces" not in json.dumps(own.blocks)
    assert eventually(lambda: move_card(fake_slack, OTHER_APPROVER, "to the new connection?"))
    assert fake_tfe.requests_to("PATCH", r"/api/v2/(workspaces|policy-sets)/.*") == []

    # A tampered move id finds nothing.
    message, block, start = button_in(card, "Move workspaces")
    for value in ("999", "1 OR 1=1", ""):
        slack.post_payload(slack.click_payload(message, block, {**start, "value": value}, APPROVER))
    eventually(
        lambda: (
            len([m for m in fake_slack.ephemeral if "That move no longer exists" in m.text]) == 3
        )
    )
    # The requester is no approver: a forged press changes nothing.
    slack.click("Move workspaces", user=OWNER, found=button_in(card, "Move workspaces"))
    eventually(lambda: [m for m in fake_slack.ephemeral if "Only an approver" in m.text])
    assert fake_tfe.requests_to("PATCH", r"/api/v2/(workspaces|policy-sets)/.*") == []

    slack.click("Move workspaces", user=APPROVER, found=button_in(card, "Move workspaces"))
    in_channel = eventually(
        lambda: [m for m in channel(fake_slack, "Move of acme-infra done")], timeout=20
    )[0]
    assert "31 of 32 moved, 1 failed, 0 left" in in_channel.text
    assert "app-07" not in json.dumps(in_channel.blocks)  # the channel hears counts
    assert dry.ts == in_channel.ts  # one message, updated in place
    report = eventually(lambda: move_card(fake_slack, APPROVER, "Move of acme-infra done"))[0]
    assert report.ts == card.ts  # the card too
    said = json.dumps(report.blocks)
    assert "31 of 32 moved, 1 failed, 0 left" in said
    assert "app-07" in said and "cannot see it" in said
    # The other approver's card lost its buttons and says who decided.
    other = eventually(lambda: move_card(fake_slack, OTHER_APPROVER, "Move of acme-infra done"))
    assert "Move workspaces" not in json.dumps(other[0].blocks)
    assert "app-07" in json.dumps(other[0].blocks)
    for item_id in workspaces + policy_sets:
        repo = fake_tfe.linked_item(item_id)["attributes"]["vcs-repo"]  # type: ignore[index]
        if item_id == workspaces[7]:
            assert repo is None
        else:
            assert repo["oauth-token-id"] == new_token and repo["identifier"].startswith(
                "acme-team/"
            )
    # Each item was changed once.
    patched = [
        r.path for r in fake_tfe.requests_to("PATCH", r"/api/v2/(workspaces|policy-sets)/.*")
    ]
    assert len(patched) == len(set(patched)) == 32
    # Modules are re-published only after their own confirmation, by an approver.
    slack.click("Re-publish modules", user=OWNER, found=button_in(report, "Re-publish modules"))
    eventually(
        lambda: [m for m in fake_slack.ephemeral if "Only an approver can do that" in m.text]
    )
    slack.click("Re-publish modules", user=APPROVER, found=button_in(report, "Re-publish modules"))
    confirm = slack.wait_for_view(
        APPROVER, lambda v: v.get("callback_id") == "republish_modules_confirm"
    )
    assert "with all its versions" in json.dumps(confirm.view)
    assert "network/aws" in json.dumps(confirm.view)
    assert not fake_tfe.requests_to("DELETE", r"/api/v2/organizations/.*/registry-modules/.*")
    slack.submit(confirm, {}, user=APPROVER)
    slack.wait_for_view_text(
        APPROVER, "network/aws: re-published from acme-team/terraform-aws-network"
    )
    [module] = fake_tfe.linked[ORG]["registry-modules"]
    assert module["attributes"]["vcs-repo"]["oauth-token-id"] == new_token
    eventually(
        lambda: (
            "Registry modules re-published by"
            in json.dumps(move_card(fake_slack, APPROVER, "Move of acme-infra done")[0].blocks)
        )
    )
    assert "network" not in json.dumps(channel(fake_slack, "Move of acme-infra done")[0].blocks)
    # The client is gone already: Delete old client says so and records it.
    slack.click("Delete old client", user=APPROVER, found=button_in(report, "Delete old client"))
    eventually(lambda: [m for m in fake_slack.ephemeral if "gone from Terraform already" in m.text])


def test_the_old_client_is_deleted_only_once_nothing_uses_it(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot, slack, client_id, token = first_connection(make_bot, fake_slack, fake_tfe)
    workspaces = [
        fake_tfe.link(ORG, "workspaces", f"svc-{n}", token, identifier=f"acme-team/svc-{n}")
        for n in range(3)
    ]
    eventually(lambda: bot.runtime.service.get(1).uses_workspaces == 3, timeout=10)
    fake_tfe.clients[client_id].tokens.clear()  # the token is gone; the client stays
    fake_tfe.refused_relinks.add("acme-team/svc-1")
    new_token = replace_connection(slack, fake_slack, fake_tfe, bot, client_id)
    decide_move(slack, fake_slack, OTHER_APPROVER, "Move workspaces")
    report = eventually(
        lambda: move_card(fake_slack, APPROVER, "Move of acme-infra done"), timeout=20
    )[0]
    assert "2 of 3 moved, 1 failed" in report.text

    slack.click("Delete old client", user=OWNER, found=button_in(report, "Delete old client"))
    eventually(lambda: [m for m in fake_slack.ephemeral if "Only an approver" in m.text])
    slack.click("Delete old client", user=APPROVER, found=button_in(report, "Delete old client"))
    eventually(
        lambda: [
            m
            for m in fake_slack.ephemeral
            if "1 still use the old client (workspace svc-1)" in m.text
        ]
    )
    assert client_id in fake_tfe.clients

    # Someone relinks the last one by hand; now the old client may go.
    fake_tfe.linked_item(workspaces[1])["attributes"]["vcs-repo"]["oauth-token-id"] = new_token  # type: ignore[index]
    slack.click("Delete old client", user=APPROVER, found=button_in(report, "Delete old client"))
    eventually(
        lambda: [m for m in fake_slack.ephemeral if "Deleted the old OAuth client" in m.text]
    )
    assert client_id not in fake_tfe.clients
    eventually(
        lambda: (
            "deleted the old OAuth client"
            in json.dumps([m.blocks for m in channel(fake_slack, "Move of acme-infra done")])
        )
    )
