"""A bot closed in its own process (a test's, an embedding one) lets go of everything: no
thread keeps running and nothing keeps it alive (each test's bot used to outlive it, with its
engine, its threads and every statement it had compiled)."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from tests.fakes.slack import FakeSlack, SlackDriver
from tests.flow.steps import open_form
from tests.harness import RunningBot, eventually


@pytest.mark.sqlite_only
def test_a_closed_bot_leaves_no_thread_and_is_collected(
    env: dict[str, str], fake_slack: FakeSlack
) -> None:
    before = set(threading.enumerate())
    bot = RunningBot.from_env(env)
    slack = SlackDriver(fake_slack, bot.url)
    open_form(slack)  # its web threads, lanes and commits all used
    slack.http.close()
    runtime, due, engine = (
        weakref.ref(x) for x in (bot.runtime, bot.runtime.due, bot.runtime.engine)
    )
    bot.stop()
    del bot
    eventually(lambda: not [t for t in threading.enumerate() if t not in before])
    gc.collect()
    assert runtime() is None and due() is None and engine() is None
