"""The whole connection, as one user sees it, through the bot's real HTTP endpoint."""

from __future__ import annotations

import json
import re

from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE
from tests.harness import RunningBot, eventually

OWNER = "U1OWNER"
CHANNEL = "C1CHAN"
KEY = "fakeKeyAbc123XYZ78"
SECRET = "fakeSecretDoNotUse0123456789abcd"


def start_connection(slack: SlackDriver, org: str = "acme-infra") -> None:
    response = slack.command(org, user=OWNER, channel=CHANNEL)
    assert response.status_code == 200
    form = slack.wait_for_view(OWNER)
    assert form.view["callback_id"] == "connect_request"
    answer = slack.submit(
        form,
        {
            "Whose Bitbucket account will own the connection?": "A shared service account (recommended)",
            "Service account's Bitbucket username": "svc-terraform",
            "Bitbucket workspace": "acme-team",
        },
    )
    assert answer["response_action"] == "update"


def test_happy_path(
    slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE, bot: RunningBot
) -> None:
    start_connection(slack)
    # The organization checked out: the modal says so and the progress message is in the channel.
    slack.wait_for_view_text(OWNER, "is under way")
    progress = eventually(lambda: fake_slack.channel_messages(CHANNEL))[0]
    body = json.dumps(progress.blocks)
    assert "Terraform Enterprise (acme-infra)" in body
    assert fake_tfe.url in body  # the consumer's URL is TFE_URL
    assert "This is a private consumer" in body
    for permission in ("Account", "Repositories", "Pull requests", "Webhooks"):
        assert permission in body
    # Step 1 already has the real callback URL, so Bitbucket is visited once.
    shown = re.search(re.escape(fake_tfe.url) + r"/auth/[0-9a-f-]{36}/callback", body)
    assert shown is not None and "placeholder" not in body
    assert body.count(":white_square:") == 3  # four steps: no "paste the callback URL"

    # Step 1 → 2: key and secret.
    slack.click("Enter Key and Secret", user=OWNER)
    form = slack.wait_for_view_text(OWNER, "connect_credentials")
    slack.submit(form, {"Key": KEY, "Secret": SECRET})
    created = slack.wait_for_view_text(OWNER, "OAuth client created")
    assert "Authorize" in json.dumps(created.view)

    clients = fake_tfe.bitbucket_clients("acme-infra")
    assert len(clients) == 1
    client = clients[0]
    attributes = client.attributes
    assert attributes["service-provider"] == "bitbucket_hosted"
    assert attributes["http-url"] == bot.settings.bitbucket_url
    assert attributes["api-url"] == bot.settings.bitbucket_api_url
    assert attributes["key"] == KEY and client.secret == SECRET
    assert "requested by @u1owner" in attributes["name"]
    assert attributes["callback-url"] == shown.group(0)

    # Step 3: straight to authorizing; the link goes to the owner alone, in a DM.
    message, _block, button = slack.find_button("Authorize")
    assert message.channel == "D" + OWNER
    assert button["url"] == fake_tfe.url + attributes["connect-path"]
    assert button.get("style") == "primary"
    assert "Step 3: authorize" in json.dumps(message.blocks)
    assert not slack.has_button("I've updated the callback URL")
    slack.click("Authorize", user=OWNER)

    # Step 4: the token appears in TFE; the bot notices and tells the channel.
    fake_tfe.authorize(client.id, user="svc-terraform")
    announcement = eventually(
        lambda: [m for m in fake_slack.channel_messages(CHANNEL) if m is not progress]
    )[0]
    assert "acme-infra" in announcement.text
    text = json.dumps(announcement.blocks)
    assert client.id in text and f"<@{OWNER}>" in text and "service account" in text
    eventually(lambda: "Connected." in json.dumps(progress.blocks))
    assert json.dumps(progress.blocks).count(":white_check_mark:") == 4
    assert "Paste the callback URL" not in json.dumps(progress.blocks)

    events = bot.runtime.service.events(1)
    assert [e.to_state for e in events if e.from_state != e.to_state] == [
        "requested",
        "awaiting_credentials",
        "awaiting_authorization",
        "connected",
    ]


def test_a_tfe_that_ignores_the_uuid_gets_the_callback_step(
    slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE, bot: RunningBot
) -> None:
    fake_tfe.uuid_mode = "ignore"
    start_connection(slack)
    slack.wait_for_view_text(OWNER, "is under way")
    progress = eventually(lambda: fake_slack.channel_messages(CHANNEL))[0]
    slack.click("Enter Key and Secret", user=OWNER)
    form = slack.wait_for_view_text(OWNER, "connect_credentials")
    slack.submit(form, {"Key": KEY, "Secret": SECRET})
    created = slack.wait_for_view_text(OWNER, "OAuth client created")
    assert "another callback URL" in json.dumps(created.view)
    client = fake_tfe.bitbucket_clients("acme-infra")[0]
    # The URL TFE gave, said plainly, with the button to say it is in the consumer.
    eventually(lambda: client.attributes["callback-url"] in json.dumps(progress.blocks))
    body = json.dumps(progress.blocks)
    assert "another callback URL than the one in step 1" in body
    assert body.count(":white_square:") == 2  # five steps, on the third
    assert not fake_slack.channel_messages("D" + OWNER)  # no authorize link yet
    slack.click("I've updated the callback URL", user=OWNER)
    found = slack.find_button("Authorize")
    assert "Step 4: authorize" in json.dumps(found[0].blocks)
    slack.click("", user=OWNER, found=found)
    fake_tfe.authorize(client.id, user="svc-terraform")
    eventually(lambda: "Connected." in json.dumps(progress.blocks))
    assert json.dumps(progress.blocks).count(":white_check_mark:") == 5
    assert [e.to_state for e in bot.runtime.service.events(1) if e.from_state != e.to_state][
        2:
    ] == ["awaiting_callback", "awaiting_authorization", "connected"]


def test_a_tfe_that_refuses_the_uuid_is_asked_again_without_it(
    slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE, bot: RunningBot
) -> None:
    fake_tfe.uuid_mode = "refuse"
    start_connection(slack)
    slack.wait_for_view_text(OWNER, "is under way")
    slack.click("Enter Key and Secret", user=OWNER)
    form = slack.wait_for_view_text(OWNER, "connect_credentials")
    slack.submit(form, {"Key": KEY, "Secret": SECRET})
    slack.wait_for_view_text(OWNER, "OAuth client created")
    creates = fake_tfe.requests_to("POST", r"/api/v2/organizations/acme-infra/oauth-clients")
    assert ["uuid" in r.json()["data"]["attributes"] for r in creates] == [True, False]
    assert len(fake_tfe.bitbucket_clients("acme-infra")) == 1
    assert bot.runtime.service.get(1).state == "awaiting_callback"
    slack.find_button("I've updated the callback URL")
