"""A restart at any step loses nothing: `python -m bot serve` killed and started again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE
from tests.flow.steps import CHANNEL, KEY, OWNER, SECRET, credentials_form, started
from tests.harness import BotProcess, eventually


@pytest.mark.starts_early
def test_restarts_mid_flow_lose_nothing(
    env: dict[str, str], fake_slack: FakeSlack, fake_tfe: FakeTFE, tmp_path: Path
) -> None:
    log = tmp_path / "bot.log"
    first = BotProcess(env, log).wait_ready()
    slack = SlackDriver(fake_slack, first.url)
    progress = started(slack, fake_slack)
    shown = json.dumps(progress.blocks)  # step 1 shows the callback URL before any client exists
    first.kill()

    # Restart 1: waiting for the key and secret. The buttons still work.
    second = BotProcess(env, log).wait_ready()
    slack = SlackDriver(fake_slack, second.url)
    slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
    slack.wait_for_view_text(OWNER, "OAuth client created")
    client = fake_tfe.bitbucket_clients("acme-infra")[0]
    assert client.attributes["callback-url"] in shown  # the uuid survived the restart
    slack.find_button("Authorize")
    slack.click("Authorize", user=OWNER)
    eventually(lambda: "opened the authorize link" in json.dumps(progress.blocks))
    second.kill()

    # Restart 2: the token arrives while the bot is down; the watch resumes and finds it.
    client = fake_tfe.bitbucket_clients("acme-infra")[0]
    fake_tfe.authorize(client.id)
    third = BotProcess(env, log).wait_ready()
    try:
        eventually(
            lambda: len(fake_slack.channel_messages(CHANNEL)) == 2,
            timeout=20,
            message="the channel was not told after the restart",
        )
        assert "is connected" in fake_slack.channel_messages(CHANNEL)[1].text
        assert "Connected." in json.dumps(progress.blocks)
        assert len(fake_tfe.bitbucket_clients("acme-infra")) == 1
    finally:
        assert third.stop() == 0  # SIGTERM stops it cleanly
    assert "Traceback" not in log.read_text()


@pytest.mark.starts_early
def test_a_bot_killed_during_the_create_frees_the_form_and_adopts_the_client(
    env: dict[str, str], fake_slack: FakeSlack, fake_tfe: FakeTFE, tmp_path: Path
) -> None:
    log = tmp_path / "bot.log"
    first = BotProcess(env, log).wait_ready()
    slack = SlackDriver(fake_slack, first.url)
    started(slack, fake_slack)
    create = r"/api/v2/organizations/acme-infra/oauth-clients"
    # TFE takes 3 s to make the client, and the answer never comes back: the bot dies first.
    fake_tfe.fail("POST", create, delay=3, mode="drop_after")
    slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
    eventually(lambda: fake_tfe.requests_to("POST", create))
    first.kill()
    eventually(lambda: fake_tfe.bitbucket_clients("acme-infra"), timeout=10)  # TFE made it

    second = BotProcess(env, log).wait_ready()
    try:
        slack = SlackDriver(fake_slack, second.url)
        told = eventually(
            lambda: [
                m for m in fake_slack.channel_messages("D" + OWNER) if "I restarted" in m.text
            ],
            timeout=15,
        )[0]
        assert "submit the form again" in told.text
        slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
        slack.wait_for_view_text(OWNER, "OAuth client created", timeout=20)
        assert len(fake_tfe.bitbucket_clients("acme-infra")) == 1  # adopted, not made twice
        assert len(fake_tfe.requests_to("POST", create)) == 1
        slack.find_button("Authorize")
    finally:
        assert second.stop() == 0
