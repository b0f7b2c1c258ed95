"""With SLACK_APP_TOKEN set, the bot connects out over Socket Mode and needs no public URL."""

from __future__ import annotations

from pathlib import Path

from tests.fakes import slack as fake_slack_module
from tests.fakes.slack import FakeSlack
from tests.fakes.socket_mode import FakeSocketMode
from tests.fakes.tfe import FakeTFE
from tests.harness import BotProcess, bot_env, eventually


def test_socket_mode_end_to_end(
    fake_slack: FakeSlack, fake_tfe: FakeTFE, sqlite_url: str, tmp_path: Path
) -> None:
    socket = FakeSocketMode()
    fake_slack.socket_url = socket.url
    env = bot_env(
        slack_url=fake_slack.url,
        tfe_url=fake_tfe.url,
        database_url=sqlite_url,
        SLACK_APP_TOKEN=fake_slack_module.APP_TOKEN,
        SLACK_SIGNING_SECRET="",
    )
    bot = BotProcess(env, tmp_path / "bot.log")
    try:
        assert socket.connected.wait(30), (tmp_path / "bot.log").read_text()[-2000:]
        envelope = socket.send(
            "slash_commands",
            {
                "command": "/connect-bitbucket",
                "text": "acme-infra",
                "user_id": "U1OWNER",
                "user_name": "u1owner",
                "channel_id": "C1CHAN",
                "team_id": "T0FAKE",
                "api_app_id": "A0FAKE",
                "trigger_id": fake_slack.issue_trigger("U1OWNER"),
                "response_url": "https://hooks.slack.invalid/1",
            },
        )
        socket.ack_for(envelope)  # acknowledged over the socket
        eventually(lambda: fake_slack.views, timeout=10)
        view = next(iter(fake_slack.views.values())).view
        assert view["callback_id"] == "connect_request"
        # The Home tab, over the socket too.
        envelope = socket.send(
            "events_api",
            {
                "type": "event_callback",
                "team_id": "T0FAKE",
                "api_app_id": "A0FAKE",
                "event_id": "Ev0HOME",
                "event": {"type": "app_home_opened", "user": "U1OWNER", "tab": "home"},
            },
        )
        socket.ack_for(envelope)
        home = eventually(lambda: fake_slack.homes.get("U1OWNER"), timeout=10)
        assert "Connect an organization" in str(home)
    finally:
        assert bot.stop() == 0
        socket.stop()
