"""Moving N workspaces to a new connection: how long, and how many Terraform calls a second
against TFE_RATE (fake Terraform: 50 ms a call, 429 past 1.2 x TFE_RATE), with one replica
and with two on one database. Run alone: `python -m benchmarks.move`."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bot.config import load_settings
from tests.fakes.slack import FakeSlack
from tests.fakes.tfe import FakeTFE
from tests.harness import RunningBot, bot_env
from tests.seeds import seeded_move

TFE_RATE = 25
SIZES = (100, 500, 1_000)
TWO_REPLICA_SIZES = (500,)
PATCH = r"/api/v2/workspaces/.*"


def move(url: str, label: str, size: int, replicas: int) -> None:
    slack, tfe = FakeSlack().start(), FakeTFE().start()
    tfe.latency = 0.05
    tfe.rate_limit = int(TFE_RATE * 1.2)
    seeded_move(url, tfe, size)
    env = bot_env(slack_url=slack.url, tfe_url=tfe.url, database_url=url, TFE_RATE=str(TFE_RATE))
    bots = [RunningBot(load_settings(env), jobs=False) for _ in range(replicas)]
    started = time.monotonic()
    for bot in bots:
        bot.runtime.start_jobs()
    while time.monotonic() - started < 900:
        if any(m.text.startswith("Move of") and "done" in m.text for m in slack.messages):
            break
        time.sleep(0.1)
    took = time.monotonic() - started
    for bot in bots:
        bot.stop()
    patched = len(tfe.requests_to("PATCH", PATCH))
    refused = tfe.refused_for_rate
    calls = len([r for r in tfe.requests if r.path.startswith("/api/v2/")]) - refused
    updates = len(slack.requests_to("POST", r"/api/chat.update"))
    slack.stop()
    tfe.stop()
    print(
        f"move ({label}, {replicas} replica{'s' if replicas > 1 else ''}, {size:,} workspaces, "
        f"TFE_RATE={TFE_RATE}): {took:.1f} s ({took / (calls / TFE_RATE):.2f} x calls / "
        f"TFE_RATE), {patched / took:.1f} PATCHes/s ({calls / took / TFE_RATE:.0%} of "
        f"TFE_RATE), {refused} answered 429, {updates} progress updates"
    )


def main(postgres: Callable[[], str] | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(1000))
        for size in SIZES:
            move(f"sqlite:///{Path(tmp) / f'move{next(counter)}.db'}", "SQLite", size, 1)
    if postgres:
        for size in TWO_REPLICA_SIZES:
            move(postgres(), "PostgreSQL", size, 2)


if __name__ == "__main__":
    from tests.postgres import Cluster

    try:
        cluster: Cluster | None = Cluster()
    except Exception as error:
        print(f"PostgreSQL not available ({error}); SQLite figures only")
        cluster = None
    try:
        main(cluster.new_database if cluster else None)
    finally:
        if cluster:
            cluster.stop()
