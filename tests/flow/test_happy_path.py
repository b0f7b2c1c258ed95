"""The whole connection, as one user sees it, through the bot's real HTTP endpoint."""

from __future__ import annotations

import json

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

    # Step 1 → 2: key and secret.
    slack.click("Enter Key and Secret", user=OWNER)
    form = slack.wait_for_view_text(OWNER, "connect_credentials")
    slack.submit(form, {"Key": KEY, "Secret": SECRET})
    slack.wait_for_view_text(OWNER, "OAuth client created")

    clients = fake_tfe.bitbucket_clients("acme-infra")
    assert len(clients) == 1
    client = clients[0]
    attributes = client.attributes
    assert attributes["service-provider"] == "bitbucket_hosted"
    assert attributes["http-url"] == bot.settings.bitbucket_url
    assert attributes["api-url"] == bot.settings.bitbucket_api_url
    assert attributes["key"] == KEY and client.secret == SECRET
    assert "requested by @u1owner" in attributes["name"]

    # Step 3: the callback URL is shown, with the button to say it's done.
    eventually(lambda: attributes["callback-url"] in json.dumps(progress.blocks))
    slack.click("I've updated the callback URL", user=OWNER)

    # Step 4: the authorize link goes to the owner alone, in a DM.
    message, _block, button = slack.find_button("Authorize")
    assert message.channel == "D" + OWNER
    assert button["url"] == fake_tfe.url + attributes["connect-path"]
    assert button.get("style") == "primary"
    slack.click("Authorize", user=OWNER)

    # Step 5: the token appears in TFE; the bot notices and tells the channel.
    fake_tfe.authorize(client.id, user="svc-terraform")
    announcement = eventually(
        lambda: [m for m in fake_slack.channel_messages(CHANNEL) if m is not progress]
    )[0]
    assert "acme-infra" in announcement.text
    text = json.dumps(announcement.blocks)
    assert client.id in text and f"<@{OWNER}>" in text and "service account" in text
    eventually(lambda: "Connected." in json.dumps(progress.blocks))
    assert json.dumps(progress.blocks).count(":white_check_mark:") == 5

    events = bot.runtime.service.events(1)
    assert [e.to_state for e in events if e.from_state != e.to_state] == [
        "requested",
        "awaiting_credentials",
        "awaiting_callback",
        "awaiting_authorization",
        "connected",
    ]
