"""SIGTERM stops the bot within 10 s even while Slack holds one of its calls, and what that
call owed is sent by the next run."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE
from tests.flow.test_outbox import POST, notices, to_authorize
from tests.harness import BotProcess, eventually


@pytest.mark.starts_early
def test_sigterm_while_slack_holds_a_call_stops_within_ten_seconds_and_loses_nothing(
    env: dict[str, str], fake_slack: FakeSlack, fake_tfe: FakeTFE, tmp_path: Path
) -> None:
    log = tmp_path / "bot.log"
    first = BotProcess(env, log).wait_ready()
    slack = SlackDriver(fake_slack, first.url)
    client_id = to_authorize(slack, fake_slack, fake_tfe)
    posts = len(fake_slack.requests_to("POST", POST))
    fake_slack.fail("POST", POST, delay=60, mode="drop", times=5)  # Slack hangs
    fake_tfe.authorize(client_id)
    eventually(lambda: len(fake_slack.requests_to("POST", POST)) > posts, timeout=20)
    started = time.monotonic()
    first.process.send_signal(signal.SIGTERM)
    code = first.process.wait(timeout=20)
    took = time.monotonic() - started
    first.stop()
    assert took < 10, f"took {took:.1f} s to stop"
    assert code == 0
    assert not notices(fake_slack)
    fake_slack.clear_faults()
    second = BotProcess(env, log).wait_ready()
    try:
        eventually(lambda: notices(fake_slack), timeout=30, message="the channel was never told")
        time.sleep(1)
        assert len(notices(fake_slack)) == 1
    finally:
        assert second.stop() == 0


@pytest.mark.sqlite_only
def test_sigterm_stops_the_bot_while_clients_hold_kept_alive_connections_to_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A stop that lands while the server is busy (not waiting in select) once left kept-alive
    connections open, and the server served them until their 120 s idle timeout: the platform
    killed it instead. Clients keep asking until the stop, and keep their connections."""
    bot = BotProcess(env, tmp_path / "bot.log").wait_ready()
    stopping = threading.Event()

    def keep_asking() -> None:
        with httpx.Client(base_url=bot.url, timeout=2) as client:
            while not stopping.is_set():
                try:
                    client.get("/healthz")
                except httpx.HTTPError:
                    time.sleep(0.05)

    askers = [threading.Thread(target=keep_asking, daemon=True) for _ in range(4)]
    for asker in askers:
        asker.start()
    try:
        time.sleep(1)
        started = time.monotonic()
        bot.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            bot.process.wait(timeout=10)
        took = time.monotonic() - started
    finally:
        stopping.set()
        code = bot.stop()
    assert took < 5, f"took {took:.1f} s to stop"
    assert code == 0
    assert "stopped" in (tmp_path / "bot.log").read_text()
