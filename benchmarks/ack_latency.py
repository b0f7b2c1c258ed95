"""How fast the bot acknowledges Slack under concurrent load, through its real HTTP endpoint.

Slack gives an app 3 seconds; this fires bursts of signed slash commands and button
clicks at `POST /slack/events` (waitress, 16 threads) and reports the acknowledgement
latency. Background work (opening modals, TFE calls) still happens, as it would in use.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE
from tests.harness import BotProcess, bot_env, free_port

REQUESTS = 600
CONCURRENCY = 32


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(database_url: str, label: str, log: Path, **more: str) -> None:
    slack, tfe = FakeSlack().start(), FakeTFE().start()
    tfe.add_organization("acme-infra")
    # The bot runs as `python -m bot serve` in its own process, as in production.
    bot = BotProcess(
        bot_env(
            slack_url=slack.url,
            tfe_url=tfe.url,
            database_url=database_url,
            LOG_LEVEL="WARNING",
            **more,
        ),
        log,
    ).wait_ready()
    drivers = [SlackDriver(slack, bot.url) for _ in range(CONCURRENCY)]
    try:

        def one(i: int) -> float:
            driver = drivers[i % CONCURRENCY]
            started = time.perf_counter()
            response = driver.command("acme-infra", user=f"U{i:06d}")
            assert response.status_code == 200
            return time.perf_counter() - started

        sequential = [one(i) * 1000 for i in range(CONCURRENCY)]  # also warms up
        print(
            f"ack latency ({label}, one at a time): median "
            f"{statistics.median(sequential):.1f} ms, max {max(sequential):.1f} ms"
        )
        started = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            latencies = list(pool.map(one, range(REQUESTS)))
        elapsed = time.perf_counter() - started
        total = REQUESTS + CONCURRENCY
        deadline = time.monotonic() + 30
        while len(slack.calls_to("views.open")) < total and time.monotonic() < deadline:
            time.sleep(0.1)
        opened = len(slack.views)  # views.open calls Slack accepted (trigger still valid)
        ms = [x * 1000 for x in latencies]
        print(
            f"ack latency ({label}, {REQUESTS} slash commands, {CONCURRENCY} at once): "
            f"median {statistics.median(ms):.1f} ms, p95 {_percentile(ms, 0.95):.1f} ms, "
            f"p99 {_percentile(ms, 0.99):.1f} ms, max {max(ms):.1f} ms, "
            f"{REQUESTS / elapsed:.0f} requests/s; modals opened in time: "
            f"{opened}/{total}"
        )
    finally:
        for driver in drivers:
            driver.http.close()
        bot.stop()
        slack.stop()
        tfe.stop()


def main(postgres_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{Path(tmp) / 'bench.db'}", "SQLite", Path(tmp) / "bot.log")
        # The same with metrics on: counting each ack and Slack call costs less than noise.
        run(
            f"sqlite:///{Path(tmp) / 'metrics.db'}",
            "SQLite, metrics on",
            Path(tmp) / "bot.log",
            METRICS_PORT=str(free_port()),
        )
        if postgres_url:
            run(postgres_url, "PostgreSQL", Path(tmp) / "bot.log")
