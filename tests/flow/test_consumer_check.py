"""The Bitbucket check of the consumer before TFE gets it, and what only warns."""

from __future__ import annotations

import json

import pytest

from tests.fakes.bitbucket import FakeBitbucket
from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE
from tests.flow.steps import (
    CHANNEL,
    KEY,
    OWNER,
    SECRET,
    SERVICE,
    credentials_form,
    open_form,
    started,
    view_text,
)
from tests.harness import RunningBot, eventually

CREATE = r"/api/v2/organizations/acme-infra/oauth-clients"

# The door, the forms and the outside services: one database is enough.
pytestmark = pytest.mark.sqlite_only


def submit_credentials(slack: SlackDriver, key: str = KEY, secret: str = SECRET) -> None:
    slack.submit(credentials_form(slack), {"Key": key, "Secret": secret})


def error_under(view: dict, block_id: str) -> str:  # type: ignore[type-arg]
    blocks = view["blocks"]
    index = next(i for i, b in enumerate(blocks) if b.get("block_id") == block_id)
    return json.dumps(blocks[index + 1])


@pytest.mark.parametrize(
    ("consumer", "field", "words"),
    [
        (
            {"secret": "fakeOtherSecretValue000000000000"},
            "secret",
            "does not accept this key and secret",
        ),
        ({"private": False}, "key", "This is a private consumer"),
        ({"callback_url": None}, "key", "no callback URL"),
        (
            {"scopes": "account pullrequest:write repository:write webhook"},
            "key",
            "lacks Account: Write, Repositories: Admin",
        ),
        (
            {"scopes": "account:write repository:admin"},
            "key",
            "lacks Pull requests: Write, Webhooks: Read and write",
        ),
    ],
)
def test_bad_consumers_are_reported_on_their_field_and_nothing_reaches_tfe(
    slack: SlackDriver,
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    fake_bitbucket: FakeBitbucket,
    consumer: dict,
    field: str,
    words: str,  # type: ignore[type-arg]
) -> None:
    for name, value in consumer.items():
        setattr(fake_bitbucket.consumers[KEY], name, value)
    started(slack, fake_slack)
    submit_credentials(slack)
    view = slack.wait_for_view_text(OWNER, words.split(",")[0])
    assert words in error_under(view.view, field)
    assert not fake_tfe.requests_to("POST", CREATE)


def test_after_fixing_the_consumer_the_same_key_and_secret_go_through(
    slack: SlackDriver,
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    fake_bitbucket: FakeBitbucket,
) -> None:
    fake_bitbucket.consumers[KEY].private = False
    started(slack, fake_slack)
    submit_credentials(slack)
    view = slack.wait_for_view_text(OWNER, "private consumer")
    fake_bitbucket.consumers[KEY].private = True
    slack.submit(view, {"Secret": SECRET})
    slack.wait_for_view_text(OWNER, "OAuth client created")
    assert len(fake_tfe.bitbucket_clients("acme-infra")) == 1


def test_bitbucket_down_blocks_with_a_retry_and_rate_limits_are_waited_out(
    slack: SlackDriver,
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    fake_bitbucket: FakeBitbucket,
) -> None:
    started(slack, fake_slack)
    fake_bitbucket.fail("POST", r"/site/oauth2/access_token", status=503, times=10)
    submit_credentials(slack)
    view = slack.wait_for_view_text(OWNER, "Try again in a minute", timeout=20)
    assert not fake_tfe.requests_to("POST", CREATE)
    fake_bitbucket.clear_faults()
    fake_bitbucket.fail(
        "POST", r"/site/oauth2/access_token", status=429, headers={"Retry-After": "0.2"}
    )
    slack.submit(view, {"Secret": SECRET})
    slack.wait_for_view_text(OWNER, "OAuth client created")


def test_owner_without_admin_is_warned_not_blocked(
    slack: SlackDriver,
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    fake_bitbucket: FakeBitbucket,
) -> None:
    fake_bitbucket.add_repositories("acme-team", ["infra", "network"], **{"svc-terraform": "admin"})
    fake_bitbucket.add_repositories(
        "acme-team", [f"app-{i}" for i in range(7)], **{"svc-terraform": "write"}
    )
    fake_bitbucket.add_repositories("elsewhere", ["x"], **{"svc-terraform": "read"})
    form = open_form(slack)
    slack.submit(form, {**SERVICE, "Bitbucket workspace": "acme-team"})
    slack.wait_for_view_text(OWNER, "is under way")
    progress = eventually(lambda: fake_slack.channel_messages(CHANNEL))[0]
    submit_credentials(slack)
    view = slack.wait_for_view_text(OWNER, "OAuth client created")
    assert "not admin on 7 of 9 repositories in acme-team" in view_text(view)
    assert "acme-team/app-0" in view_text(view) and "and 2 more" in view_text(view)
    assert "elsewhere" not in view_text(view)
    eventually(lambda: "not admin on 7 of 9" in json.dumps(progress.blocks))
    assert len(fake_tfe.bitbucket_clients("acme-infra")) == 1


def test_consumer_owned_by_another_account_is_pointed_out(
    slack: SlackDriver,
    fake_slack: FakeSlack,
    fake_bitbucket: FakeBitbucket,
) -> None:
    fake_bitbucket.consumers[KEY].owner = "jane-personal"
    started(slack, fake_slack)
    submit_credentials(slack)
    view = slack.wait_for_view_text(OWNER, "OAuth client created")
    assert "belongs to Bitbucket user jane-personal, not svc-terraform" in view_text(view)


def test_existing_bitbucket_client_is_offered_stop_or_add_another(
    slack: SlackDriver,
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    bot: RunningBot,
) -> None:
    fake_tfe.clients["oc-existing"] = _existing_client(fake_tfe)
    form = open_form(slack)
    slack.submit(form, SERVICE)
    view = slack.wait_for_view_text(OWNER, "already has 1 Bitbucket Cloud connection")
    assert "oc-existing" in view_text(view)
    slack.submit(view, {})  # not ticked: the same question again, nothing started
    view = slack.wait_for_view(
        OWNER,
        lambda v: "already has 1" in json.dumps(v) and v.get("callback_id") == "connect_request",
    )
    assert not fake_slack.channel_messages(CHANNEL)
    slack.submit(
        view,
        {
            "The organization already has a Bitbucket connection": [
                "Add another Bitbucket connection anyway"
            ]
        },
    )
    slack.wait_for_view_text(OWNER, "is under way")
    submit_credentials(slack)  # acknowledged once: not asked again
    slack.wait_for_view_text(OWNER, "OAuth client created")
    assert len(fake_tfe.bitbucket_clients("acme-infra")) == 2
    assert bot.runtime.service.get(1).duplicates_acknowledged


def test_client_made_meanwhile_is_caught_before_creating(
    slack: SlackDriver,
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
) -> None:
    started(slack, fake_slack)
    fake_tfe.clients["oc-existing"] = _existing_client(fake_tfe)
    submit_credentials(slack)
    view = slack.wait_for_view_text(OWNER, "already has 1 Bitbucket Cloud connection")
    assert view.view["callback_id"] == "connect_credentials"
    assert len(fake_tfe.bitbucket_clients("acme-infra")) == 1
    slack.submit(
        view,
        {
            "Secret": SECRET,
            "The organization already has a Bitbucket connection": [
                "Add another Bitbucket connection anyway"
            ],
        },
    )
    slack.wait_for_view_text(OWNER, "OAuth client created")
    assert len(fake_tfe.bitbucket_clients("acme-infra")) == 2


def _existing_client(fake_tfe: FakeTFE):  # type: ignore[no-untyped-def]
    from tests.fakes.tfe import FakeOAuthClient

    return FakeOAuthClient(
        id="oc-existing",
        organization="acme-infra",
        secret="fake-old-secret",
        attributes={"service-provider": "bitbucket_hosted", "name": "Bitbucket (made by hand)"},
        tokens=[{"id": "ot-old", "type": "oauth-tokens", "attributes": {}}],
    )
