"""Background work at scale: the figures someone sizing a deployment needs.

- A round of health checks for N connected connections: how long, and how many Terraform
  calls a second against TFE_RATE (fake Terraform: 50 ms a call, 429 past 1.2 x TFE_RATE),
  with one replica and with two on one PostgreSQL; and how late a reminder due meanwhile
  goes out (people's lane, beside the bulk one).
- The outbox draining N owed messages, with Slack answering, and with Slack refusing every
  other call with a 429 (Retry-After 1).
- The audit export of N events: time to its first line and peak RSS (a process of its own).
- `status` with N connections in the database: the time to build it.

Each at three sizes, so the growth shows.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

from benchmarks.sweep import table_of
from bot import db
from bot.config import load_settings
from bot.connections.model import AccountKind, Connection, ConnectionEvent
from bot.connections.outbox import Owed
from bot.connections.service import NewConnection
from tests.fakes.slack import FakeSlack
from tests.fakes.tfe import FakeTFE
from tests.harness import ROOT, RunningBot, bot_env

TFE_RATE = 25  # calls a second, as in production (TFE_RATE's default)
HEALTH_SIZES = (500, 1_000, 2_000)
TWO_REPLICA_SIZES = (500, 1_000)
OUTBOX_SIZES = (100, 300, 1_000)
AUDIT_SIZES = (10_000, 100_000, 1_000_000)
STATUS_SIZES = (1_000, 10_000, 100_000)


def connections_rows(count: int, *, state: str, clients: list[str] | None, now: datetime) -> list:
    long_ago = now - timedelta(days=2)
    return [
        {
            "request_ref": f"scale:{i}",
            "team_id": "T",
            "channel_id": f"C{i % 50:04d}",
            "owner_id": f"U{i % 2000:05d}SCALE",
            "organization": f"scale-{i}",
            "account_kind": "service_account",
            "state": state,
            "oauth_client_id": clients[i] if clients else None,
            # The fake's hand-made clients all hold this token: the working check uses it.
            "oauth_token_id": "ot-byhand" if clients else None,
            "duplicates_acknowledged": False,
            "created_at": long_ago,
            "updated_at": long_ago + timedelta(seconds=i),
            "progressed_at": long_ago,
            "next_due_at": (long_ago + timedelta(seconds=i)) if clients else None,
            # Counted lately: a round of plain checks (a count comes every fourth round).
            "dependents_checked_at": now if clients else None,
        }
        for i in range(count)
    ]


def insert_rows(url: str, model: type, rows: list, chunk: int = 5000) -> None:
    engine = db.make_engine(url)
    with engine.begin() as connection:
        for start in range(0, len(rows), chunk):
            connection.execute(insert(table_of(model)), rows[start : start + chunk])
        if engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE"))
    engine.dispose()


def health_round(url: str, label: str, size: int, replicas: int) -> None:
    slack, tfe = FakeSlack().start(), FakeTFE().start()
    tfe.add_organization("acme-infra")
    tfe.latency = 0.05
    tfe.rate_limit = int(TFE_RATE * 1.2)
    clients = [tfe.add_client_by_hand("acme-infra") for _ in range(size)]
    db.migrate(url)
    now = datetime.now(UTC)
    insert_rows(
        url,
        Connection,
        connections_rows(size, state="connected", clients=clients, now=now),
    )
    # One connection a person waits on: due for a reminder 3 s after the round starts.
    env = bot_env(
        slack_url=slack.url,
        tfe_url=tfe.url,
        database_url=url,
        TFE_RATE=str(TFE_RATE),
        HEALTH_EVERY="86400",
        STALL_AFTER="3",
        REMIND_EVERY="86400",
    )
    bots = [RunningBot(load_settings(env), jobs=False) for _ in range(replicas)]
    waiting = bots[0].runtime.service.start(_person_waiting())
    bots[0].runtime.service.update(waiting.id, progress_channel="C1", progress_ts="1.1")
    due_at = time.time() + 3
    started = time.monotonic()
    for bot in bots:
        bot.runtime.start_jobs()
    reminded: list[float] = []

    def watch_reminder() -> None:
        while not reminded and time.monotonic() - started < 600:
            if any(m.text.startswith("Reminder") for m in slack.messages):
                reminded.append(time.time() - due_at)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch_reminder, daemon=True)
    watcher.start()
    engine = db.make_engine(url)
    while True:
        with engine.connect() as connection:
            done = connection.execute(
                text("SELECT count(*) FROM connections WHERE health_checked_at IS NOT NULL")
            ).scalar_one()
        if done >= size or time.monotonic() - started > 900:
            break
        time.sleep(0.2)
    took = time.monotonic() - started
    watcher.join(timeout=5)
    checks = size  # each connection checked once this round
    tested = len(tfe.requests_to("GET", r"/api/v2/oauth-tokens/[^/]+/authorized-repos"))
    refused = tfe.refused_for_rate
    calls = len([r for r in tfe.requests if r.path.startswith("/api/v2/")]) - refused
    expected = calls / TFE_RATE
    for bot in bots:
        bot.stop()
    engine.dispose()
    slack.stop()
    tfe.stop()
    late = f"{reminded[0]:.2f} s" if reminded else "not sent"
    print(
        f"health round ({label}, {replicas} replica{'s' if replicas > 1 else ''}, {size:,} "
        f"connected, TFE_RATE={TFE_RATE}): {took:.1f} s ({took / expected:.2f} x calls / "
        f"TFE_RATE; {calls / max(1, checks):.2f} calls a check, {tested:,} of them token "
        "tests), "
        f"{calls / took:.1f} Terraform calls/s ({calls / took / TFE_RATE:.0%} of TFE_RATE), "
        f"{refused} answered 429; a reminder due meanwhile went out "
        f"{late} after it was due"
    )


def _person_waiting() -> NewConnection:
    return NewConnection(
        request_ref="scale:waiting",
        team_id="T",
        channel_id="C1",
        owner_id="U0WAITING",
        organization="waiting-org",
        account_kind=AccountKind.SERVICE_ACCOUNT,
        bitbucket_username="svc",
        bitbucket_workspace="acme-team",
    )


def outbox_drain(url: str, label: str, size: int, refuse: bool) -> None:
    slack, tfe = FakeSlack().start(), FakeTFE().start()
    db.migrate(url)
    env = bot_env(slack_url=slack.url, tfe_url=tfe.url, database_url=url)
    bot = RunningBot(load_settings(env), jobs=False)
    service = bot.runtime.service

    for i in range(size):  # each owes its progress message (and App Home)
        service.start(
            NewConnection(
                request_ref=f"owe:{i}",
                team_id="T",
                channel_id=f"C{i % 20:03d}",
                owner_id=f"U{i:05d}OWE",
                organization=f"owe-{i}",
                account_kind=AccountKind.SERVICE_ACCOUNT,
                bitbucket_username="svc",
            )
        )
    owed = len(bot.runtime.courier.outbox.owed())
    homes = sum(1 for m in bot.runtime.courier.outbox.owed() if m.kind == Owed.HOME)
    if refuse:
        slack.fail(
            "POST",
            r"/api/chat\.postMessage",
            status=429,
            body={"ok": False, "error": "ratelimited"},
            headers={"Retry-After": "1"},
            times=size // 2,
        )
    started = time.monotonic()
    bot.runtime.start_jobs()

    # The channels' progress messages go at 0.9 a second per channel; the Home tabs at
    # Slack's tier for views.publish (a burst of 100, then 100 a minute, for all replicas),
    # so 1,000 of them take nine minutes whatever the bot does: the drain is timed until
    # the channels' messages are sent, and the Home tabs sent by then are set against what
    # the tier allows.
    def channel_owed() -> int:
        return sum(1 for m in bot.runtime.courier.outbox.owed() if m.kind != Owed.HOME)

    while channel_owed() and time.monotonic() - started < 300:
        time.sleep(0.1)
    took = time.monotonic() - started
    left = channel_owed()
    homes_left = len(bot.runtime.courier.outbox.owed()) - left
    bot.stop()
    slack.stop()
    tfe.stop()
    homes_sent = homes - homes_left
    tier = min(homes, 100 + took * 100 / 60)
    what = f", {size // 2} refused with 429" if refuse else ""
    print(
        f"outbox drain ({label}, {owed - homes:,} channel messages{what}): {took:.1f} s, "
        f"{(owed - homes - left) / took:.0f} messages/s"
        + (f", {left} still owed" if left else "")
        + f"; Home tabs by then {homes_sent:,} of {homes:,} ({homes_sent / tier:.0%} of "
        "what Slack's tier allows in that time)"
    )


def audit_export(url: str, label: str, size: int) -> None:
    db.migrate(url)
    engine = db.make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM connection_events"))
        connection.execute(text("DELETE FROM connections"))
    engine.dispose()
    now = datetime.now(UTC)
    owners = max(1, size // 10)
    insert_rows(
        url,
        Connection,
        connections_rows(owners, state="connected", clients=None, now=now),
    )
    events = (
        {
            "connection_id": 1 + i % owners,
            "at": now - timedelta(seconds=size - i),
            "actor": f"U{i % 2000:05d}",
            "from_state": "awaiting_authorization",
            "to_state": "connected",
            "note": "a note of ordinary length, as a decision or a reminder leaves",
        }
        for i in range(size)
    )
    batch: list = []
    engine = db.make_engine(url)
    with engine.begin() as connection:
        for row in events:
            batch.append(row)
            if len(batch) == 20_000:
                connection.execute(insert(table_of(ConnectionEvent)), batch)
                batch = []
        if batch:
            connection.execute(insert(table_of(ConnectionEvent)), batch)
        if engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE"))
    engine.dispose()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": url}
    started = time.monotonic()
    # The export reports its own peak (VmHWM, reset at exec; a fork's ru_maxrss would count
    # this big benchmark process's pages too).
    export = (
        "import runpy, sys\n"
        "sys.argv = ['bot', 'audit', '--format', 'csv']\n"
        "try:\n    runpy.run_module('bot', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print(int(peak.split()[1]) // 1024, file=sys.stderr)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", export],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.readline()  # the header
    process.stdout.readline()  # the first event
    first = time.monotonic() - started
    lines = 2 + sum(1 for _ in process.stdout)
    took = time.monotonic() - started
    _out, err = process.communicate()
    peak_mb = int(err.decode().strip().splitlines()[-1])
    print(
        f"audit export ({label}, {size:,} events, CSV): first line after {first:.2f} s, all "
        f"{lines - 1:,} in {took:.1f} s, peak RSS {peak_mb:.0f} MB"
    )


def status_time(url: str, label: str, size: int) -> None:
    slack, tfe = FakeSlack().start(), FakeTFE().start()
    db.migrate(url)
    engine = db.make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM connection_events"))
        connection.execute(text("DELETE FROM outbox"))
        connection.execute(text("DELETE FROM connections"))
    engine.dispose()
    now = datetime.now(UTC)
    rows = connections_rows(size, state="cancelled", clients=None, now=now)
    for row in rows[: size // 100]:  # 1% still open
        row["state"] = "awaiting_credentials"
    insert_rows(url, Connection, rows)
    env = bot_env(slack_url=slack.url, tfe_url=tfe.url, database_url=url)
    bot = RunningBot(load_settings(env), jobs=False)
    builder = bot.runtime.overview
    assert builder is not None
    timings = []
    for i in range(30):
        started = time.perf_counter()
        builder.status(f"U{i:05d}SCALE", f"C{i:04d}")
        timings.append(time.perf_counter() - started)
    bot.stop()
    slack.stop()
    tfe.stop()
    print(
        f"status ({label}, {size:,} connections, 1% open): p50 "
        f"{statistics.median(timings) * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms"
    )


def run_each(
    sizes: tuple[int, ...],
    make_url: Callable[[], str],
    label: str,
    fn: Callable[..., None],
    *args: object,
) -> None:
    for size in sizes:
        fn(make_url(), label, size, *args)


def main(postgres: Callable[[], str] | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(1000))

        def sqlite_url() -> str:
            return f"sqlite:///{Path(tmp) / f'scale{next(counter)}.db'}"

        run_each(STATUS_SIZES, sqlite_url, "SQLite", status_time)
        run_each(AUDIT_SIZES, sqlite_url, "SQLite", audit_export)
        run_each(OUTBOX_SIZES, sqlite_url, "SQLite", outbox_drain, False)
        run_each(OUTBOX_SIZES, sqlite_url, "SQLite", outbox_drain, True)
        run_each(HEALTH_SIZES, sqlite_url, "SQLite", health_round, 1)
    if postgres:
        run_each(STATUS_SIZES, postgres, "PostgreSQL", status_time)
        run_each(AUDIT_SIZES, postgres, "PostgreSQL", audit_export)
        run_each(TWO_REPLICA_SIZES, postgres, "PostgreSQL", health_round, 2)


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
