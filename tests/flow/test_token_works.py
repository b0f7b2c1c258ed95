"""The health watch, second generation: Terraform is asked to use the token, and a token
Bitbucket no longer accepts is noticed before a run fails (issue 26)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE, error_body
from tests.flow.steps import CHANNEL, OWNER
from tests.flow.test_health import channel_says, connected
from tests.flow.test_reauthorize import button_in, dm
from tests.harness import RunningBot, eventually

REPOS = r"/api/v2/oauth-tokens/.*/authorized-repos"


def labels(message: object) -> list[str]:
    return [
        element["text"]["text"]
        for block in message.blocks  # type: ignore[attr-defined]
        if block.get("type") == "actions"
        for element in block["elements"]
    ]


def status_of(slack: SlackDriver, fake_slack: FakeSlack, words: str) -> str:
    """`status 1` as the owner, asked again until it says `words` (the check comes first)."""

    def says() -> list[object]:
        slack.command("status 1", user=OWNER, channel=CHANNEL)
        time.sleep(0.3)
        return [m for m in fake_slack.ephemeral if words in json.dumps(m.blocks)]

    found = eventually(says, timeout=15)
    return json.dumps(found[-1].blocks)


@pytest.mark.parametrize("revoked", ["422", "401", "500"])
def test_a_token_bitbucket_refuses_breaks_after_two_refusals_and_re_authorize_repairs_it(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE, revoked: str
) -> None:
    bot = make_bot(HEALTH_EVERY="0.3")
    slack = SlackDriver(fake_slack, bot.url)
    client_id = connected(slack, fake_slack, fake_tfe, bot)
    token = bot.runtime.service.get(1).oauth_token_id
    assert token
    linked = fake_tfe.link("acme-infra", "workspaces", "app", token, identifier="acme-team/app")
    said = status_of(slack, fake_slack, "Terraform reads 3 repositories through it")
    assert "checked" in said

    fake_tfe.revoked[token] = revoked  # Bitbucket dropped the authorization; Terraform keeps it
    broken = eventually(lambda: dm(fake_slack, OWNER, "is broken"), timeout=15)[0]
    text = json.dumps(broken.blocks)
    assert "expired after three months unused" in text and "Re-authorize first" in text
    assert labels(broken) == ["Re-authorize", "Rotate", "Reconnect"]  # cheapest first
    refusals = [
        e.note for e in bot.runtime.service.events(1) if "could not use the token" in (e.note or "")
    ]
    assert len(refusals) >= 2
    ts = bot.runtime.service.get(1).progress_ts
    progress = eventually(
        lambda: [
            m
            for m in fake_slack.channel_messages(CHANNEL)
            if m.ts == ts and "Re-authorize" in labels(m)
        ]
    )[0]
    assert labels(progress) == ["Re-authorize", "Rotate", "Reconnect", "Cancel connection"]

    # The repair watch does not take the refused token, still listed, for a new one.
    slack.click("Re-authorize", user=OWNER, found=button_in(broken, "Re-authorize"))
    steps = eventually(lambda: dm(fake_slack, OWNER, "Re-authorize the Bitbucket connection"))[0]
    slack.click("Authorize", user=OWNER, found=button_in(steps, "Authorize"))
    eventually(lambda: len(fake_tfe.requests_to("GET", REPOS)) >= len(refusals) + 1)
    assert bot.runtime.service.get(1).state == "broken"
    assert not channel_says(fake_slack, "is repaired")

    fake_tfe.reauthorize(client_id, same_id=True)  # the same client, a token that works
    eventually(lambda: channel_says(fake_slack, "is repaired"), timeout=15)
    connection = bot.runtime.service.get(1)
    assert connection.state == "connected" and connection.oauth_token_id == token
    assert len(fake_tfe.bitbucket_clients("acme-infra")) == 1  # no new client
    assert fake_tfe.linked_item(linked)["attributes"]["vcs-repo"]["oauth-token-id"] == token  # type: ignore[index]
    assert not fake_tfe.requests_to("PATCH", r"/api/v2/workspaces/.*")


def test_one_refusal_then_a_success_says_nothing(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(HEALTH_EVERY="0.3")
    slack = SlackDriver(fake_slack, bot.url)
    connected(slack, fake_slack, fake_tfe, bot)
    checks = len(fake_tfe.requests_to("GET", REPOS))
    fake_tfe.fail(
        "GET",
        REPOS,
        status=422,
        body=error_body(422, "VCS provider error", "Bitbucket refused the OAuth token"),
    )
    eventually(lambda: len(fake_tfe.requests_to("GET", REPOS)) >= checks + 4, timeout=10)
    notes = [e.note or "" for e in bot.runtime.service.events(1)]
    assert sum("could not use the token" in n for n in notes) == 1  # on record, said nowhere
    assert bot.runtime.service.get(1).state == "connected"
    assert not channel_says(fake_slack, "is broken") and not dm(fake_slack, OWNER, "is broken")


@pytest.mark.sqlite_only
def test_an_outage_of_terraform_never_breaks_a_connection(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(HEALTH_EVERY="0.3")
    slack = SlackDriver(fake_slack, bot.url)
    connected(slack, fake_slack, fake_tfe, bot)
    checks = len(fake_tfe.requests_to("GET", REPOS))
    fake_tfe.fail("GET", REPOS, status=503, times=1000)  # no word of the provider: an outage
    fake_tfe.fail("GET", REPOS, status=429, times=1000, headers={"Retry-After": "0"})
    eventually(lambda: bot.runtime.service.get(1).health_outcome == "unreachable", timeout=10)
    eventually(lambda: len(fake_tfe.requests_to("GET", REPOS)) >= checks + 2, timeout=90)
    assert bot.runtime.service.get(1).state == "connected"
    assert "could not reach Terraform" in status_of(slack, fake_slack, "could not reach")
    fake_tfe.clear_faults()


@pytest.mark.sqlite_only
def test_a_terraform_without_the_token_test_watches_existence_only(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    fake_tfe.no_token_test = True
    bot = make_bot(HEALTH_EVERY="0.3")
    slack = SlackDriver(fake_slack, bot.url)
    client_id = connected(slack, fake_slack, fake_tfe, bot)
    said = status_of(slack, fake_slack, "does not let the bot test the token")
    assert "only its existence is watched" in said
    asked = len(fake_tfe.requests_to("GET", REPOS))
    # Existence still works as before: a token deleted in Terraform breaks it.
    fake_tfe.clients[client_id].tokens.clear()
    eventually(lambda: bot.runtime.service.get(1).state == "broken", timeout=10)
    assert len(fake_tfe.requests_to("GET", REPOS)) == asked  # not asked again within the day


@pytest.mark.sqlite_only
def test_a_token_whose_account_sees_nothing_warns_the_owner_once(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(HEALTH_EVERY="0.3")
    slack = SlackDriver(fake_slack, bot.url)
    connected(slack, fake_slack, fake_tfe, bot)
    token = bot.runtime.service.get(1).oauth_token_id
    assert token
    fake_tfe.revoked[token] = "empty"
    warned = eventually(lambda: dm(fake_slack, OWNER, "sees no repository"), timeout=10)
    assert labels(warned[0]) == ["Re-authorize"]
    assert "svc-terraform" in json.dumps(warned[0].blocks)  # who authorized
    checks = len(fake_tfe.requests_to("GET", REPOS))
    eventually(lambda: len(fake_tfe.requests_to("GET", REPOS)) >= checks + 3, timeout=10)
    assert len(dm(fake_slack, OWNER, "sees no repository")) == 1
    assert bot.runtime.service.get(1).state == "connected"
