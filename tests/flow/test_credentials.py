"""The key and secret step, and what TFE's failures of the create turn into."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE, error_body
from tests.flow.steps import (
    CHANNEL,
    KEY,
    OWNER,
    SECRET,
    STRANGER,
    at_callback,
    credentials_form,
    started,
    view_text,
)
from tests.harness import RunningBot, eventually

CREATE = r"/api/v2/organizations/acme-infra/oauth-clients"


@pytest.mark.sqlite_only
def test_blank_and_malformed_values_are_refused_on_their_fields(
    slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    started(slack, fake_slack)
    form = credentials_form(slack)
    answer = slack.submit(form, {"Key": "", "Secret": "has spaces in it"})
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"key", "secret"}
    assert "has spaces" not in json.dumps(answer)  # the message never repeats the secret
    assert not fake_tfe.requests_to("POST", CREATE)


@pytest.mark.sqlite_only
def test_the_secret_input_has_no_initial_value_and_the_view_no_buttons(
    slack: SlackDriver, fake_slack: FakeSlack
) -> None:
    started(slack, fake_slack)
    form = credentials_form(slack)
    secret = next(b for b in form.view["blocks"] if b.get("block_id") == "secret")
    assert "initial_value" not in secret["element"]
    assert secret["element"]["max_length"] <= 128
    assert not [b for b in form.view["blocks"] if b["type"] == "actions"]


@pytest.mark.sqlite_only
def test_tfe_422_is_shown_on_the_field_and_the_user_can_retry(
    slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE, bot: RunningBot
) -> None:
    started(slack, fake_slack)
    fake_tfe.fail(
        "POST",
        CREATE,
        status=422,
        body=error_body(422, "invalid attribute", "Key is invalid", "key"),
    )
    slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
    view = slack.wait_for_view_text(OWNER, "Key is invalid")
    blocks = view.view["blocks"]
    key_index = next(i for i, b in enumerate(blocks) if b.get("block_id") == "key")
    assert "Key is invalid" in json.dumps(blocks[key_index + 1])  # right under the Key field
    assert blocks[key_index]["element"]["initial_value"] == KEY  # the key is kept
    assert SECRET not in view_text(view)
    assert bot.runtime.service.get(1).state == "awaiting_credentials"
    slack.submit(view, {"Secret": SECRET})
    slack.wait_for_view_text(OWNER, "OAuth client created")
    assert len(fake_tfe.bitbucket_clients("acme-infra")) == 1


@pytest.mark.sqlite_only
def test_tfe_404_on_create_explains_access(
    slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    started(slack, fake_slack)
    fake_tfe.organizations["acme-infra"].can_update_oauth = False
    slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
    view = slack.wait_for_view_text(OWNER, "may no longer manage its VCS settings")
    assert view.view["callback_id"] == "connect_credentials"


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"status": 503},
        {"mode": "drop"},
        {"mode": "drop_after"},  # the client is made in TFE but the answer is lost
        {"status": 429, "headers": {"Retry-After": "0.3"}},
    ],
)
def test_a_lost_or_failed_create_never_makes_two_clients(
    slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE, fault: dict
) -> None:  # type: ignore[type-arg]
    started(slack, fake_slack)
    fake_tfe.fail("POST", CREATE, **fault)
    slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
    slack.wait_for_view_text(OWNER, "OAuth client created", timeout=20)
    assert len(fake_tfe.bitbucket_clients("acme-infra")) == 1


@pytest.mark.parametrize("fault", [{"status": 503}, {"mode": "drop_after"}])
def test_every_create_attempt_sends_the_connections_one_uuid(
    slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE, bot: RunningBot, fault: dict
) -> None:  # type: ignore[type-arg]
    progress = started(slack, fake_slack)
    chosen = bot.runtime.service.get(1).client_uuid
    assert chosen and f"/auth/{chosen}/callback" in json.dumps(progress.blocks)
    fake_tfe.fail("POST", CREATE, **fault)
    slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
    slack.wait_for_view_text(OWNER, "OAuth client created", timeout=20)
    sent = {
        r.json()["data"]["attributes"].get("uuid") for r in fake_tfe.requests_to("POST", CREATE)
    }
    assert sent == {chosen}
    (client,) = fake_tfe.bitbucket_clients("acme-infra")
    assert client.attributes["callback-url"].endswith(f"/auth/{chosen}/callback")
    assert bot.runtime.service.get(1).state == "awaiting_authorization"


def test_an_earlier_attempts_client_is_found_by_its_uuid_even_renamed(
    slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE, bot: RunningBot
) -> None:
    """An earlier attempt made the client (its answer lost) and someone renamed it: the
    bot adopts it by its callback URL instead of creating a second one."""
    from tests.fakes.tfe import FakeOAuthClient

    started(slack, fake_slack)
    chosen = bot.runtime.service.get(1).client_uuid
    fake_tfe.clients["oc-earlier"] = FakeOAuthClient(
        id="oc-earlier",
        organization="acme-infra",
        secret=SECRET,
        attributes={
            "service-provider": "bitbucket_hosted",
            "name": "renamed by someone",
            "callback-url": f"{fake_tfe.url}/auth/{chosen}/callback",
            "connect-path": f"/auth/{chosen}?organization_id=1",
        },
    )
    slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
    slack.wait_for_view_text(OWNER, "OAuth client created")
    assert [c.id for c in fake_tfe.bitbucket_clients("acme-infra")] == ["oc-earlier"]
    assert bot.runtime.service.get(1).oauth_client_id == "oc-earlier"
    assert not fake_tfe.requests_to("POST", CREATE)  # found before any create


def test_replayed_credentials_submission_creates_one_client(
    slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    started(slack, fake_slack)
    form = credentials_form(slack)
    payload = slack.submission_payload(form, {"Key": KEY, "Secret": SECRET}, OWNER)
    for _ in range(3):
        slack.post_payload(payload)
    slack.wait_for_view_text(OWNER, "OAuth client created")
    eventually(lambda: len(fake_tfe.requests_to("POST", CREATE)) >= 1)
    assert len(fake_tfe.requests_to("POST", CREATE)) == 1
    assert len(fake_tfe.bitbucket_clients("acme-infra")) == 1


@pytest.mark.sqlite_only
def test_a_stranger_cannot_press_the_owners_buttons(
    slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE, bot: RunningBot
) -> None:
    at_callback(slack, fake_slack, fake_tfe)
    slack.click("I've updated the callback URL", user=STRANGER)
    refusal = eventually(lambda: [m for m in fake_slack.ephemeral if m.user == STRANGER])[0]
    assert "Only <@U1OWNER>" in refusal.text
    assert bot.runtime.service.get(1).state == "awaiting_callback"
    assert not fake_slack.channel_messages("D" + OWNER)  # no authorize link went out


@pytest.mark.sqlite_only
def test_a_stranger_cannot_open_the_key_and_secret_form(
    slack: SlackDriver, fake_slack: FakeSlack
) -> None:
    started(slack, fake_slack)
    slack.click("Enter Key and Secret", user=STRANGER)
    eventually(lambda: [m for m in fake_slack.ephemeral if m.user == STRANGER])
    assert not [v for v in fake_slack.views.values() if v.user == STRANGER]


def test_double_click_on_callback_updated_sends_one_authorize_link(
    slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE, bot: RunningBot
) -> None:
    at_callback(slack, fake_slack, fake_tfe)
    found = slack.find_button("I've updated the callback URL")
    slack.click("", found=found)
    slack.click("", found=found)
    eventually(lambda: bot.runtime.service.get(1).state == "awaiting_authorization")
    eventually(lambda: fake_slack.channel_messages("D" + OWNER))
    bot.runtime.work.shutdown(wait=True)  # let both clicks finish
    assert len(fake_slack.channel_messages("D" + OWNER)) == 1


@pytest.mark.sqlite_only  # the store refuses the same on both; the flow's answer is new
@pytest.mark.parametrize("ending", ["cancelled", "expired"])
def test_a_connection_ended_while_terraform_makes_its_client_deletes_it_and_says_so(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE, ending: str
) -> None:
    """The owner cancels (or the connection expires) while Terraform is making the client:
    the client Terraform made is deleted, and the form says the connection ended, not that
    something went wrong."""
    bot = make_bot(STALL_AFTER="100", EXPIRE_AFTER="4" if ending == "expired" else "1000")
    slack = SlackDriver(fake_slack, bot.url)
    started(slack, fake_slack)
    fake_tfe.fail("POST", CREATE, delay=6, mode="slow")
    slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
    eventually(lambda: fake_tfe.requests_to("POST", CREATE))
    if ending == "cancelled":
        slack.click("Cancel connection", user=OWNER, channel=CHANNEL)
    eventually(lambda: bot.runtime.service.get(1).state == ending, timeout=10)
    eventually(lambda: fake_tfe.requests_to("DELETE", r"/api/v2/oauth-clients/[^/]+"), timeout=15)
    assert not fake_tfe.bitbucket_clients("acme-infra")
    assert len(fake_tfe.requests_to("POST", CREATE)) == 1
    told = json.dumps(slack.wait_for_view_text(OWNER, f"This connection was {ending}").view)
    assert "/connect-bitbucket" in told and "went wrong" not in told
    notes = [e.note or "" for e in bot.runtime.service.events(1)]
    assert any("deleted OAuth client" in note for note in notes)
    slack.http.close()
