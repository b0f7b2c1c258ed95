"""How long one sweep takes to find and claim due work, as the table grows.

Fills a database with N connections of which 1% are due, then times the sweep's database
work: claiming the due rows under a lease (the query that must cost in proportion to
what is due, not to N) and releasing them with their next due time. Outside calls
(Slack, TFE) are left out: they cost the same whatever N is. Also what an idle replica's
lanes pay each second: a look that finds nothing, and the heartbeat.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, Table, insert, text

from bot import db
from bot.clock import ManualClock
from bot.connections.leases import heartbeat
from bot.connections.model import Connection, OwedMessage
from bot.connections.outbox import Outbox
from bot.connections.rate_buckets import RateBuckets
from bot.connections.rate_windows import RateWindows
from bot.jobs.queue import PEOPLE, DueQueue

SIZES = (10_000, 100_000)
DUE_SHARE = 0.01
BATCH = 50  # what one sweep claims (DueWork's batch)
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def table_of(model: type) -> Table:
    """A model's table, typed as one (a declarative class's __table__ is a FromClause)."""
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def fill(engine: Engine, count: int, state: str = "awaiting_credentials") -> int:
    """Insert `count` connections in `state`; returns how many are due."""
    rng = random.Random(count)
    rows = []
    due_count = 0
    for i in range(count):
        due = rng.random() < DUE_SHARE
        due_count += due
        offset = -rng.uniform(1, 3600) if due else rng.uniform(60, 14 * 86400)
        when = NOW + timedelta(seconds=offset)
        rows.append(
            {
                "request_ref": f"bench:{i}",
                "team_id": "T",
                "channel_id": "C1",
                "owner_id": f"U{i % 5000:05d}",
                "organization": f"org-{i}",
                "account_kind": "service_account",
                "state": state,
                "duplicates_acknowledged": False,
                "created_at": when,
                "updated_at": when,
                "progressed_at": when,
                "next_due_at": when,
            }
        )
    with engine.begin() as connection:
        for start in range(0, count, 5000):
            connection.execute(insert(table_of(Connection)), rows[start : start + 5000])
        if engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE connections"))
    return due_count


def plan(engine: Engine) -> str:
    query = (
        "SELECT id FROM connections WHERE next_due_at <= :now "
        "AND (lease_until IS NULL OR lease_until < :now) ORDER BY next_due_at LIMIT 50"
    )
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as connection:
        rows = connection.execute(text(prefix + query), {"now": NOW.replace(tzinfo=None)})
        lines = [str(row[-1]) for row in rows]
    return " / ".join(line.strip() for line in lines[:3])


def measure(url: str, label: str) -> None:
    for size, state in [(n, "awaiting_credentials") for n in SIZES] + [(10_000, "connected")]:
        db.migrate(url)
        engine = db.make_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM outbox"))
            connection.execute(text("DELETE FROM connection_events"))
            connection.execute(text("DELETE FROM connections"))
        due = fill(engine, size, state)
        clock = ManualClock(NOW)
        queue = DueQueue(db.make_sessionmaker(engine), clock)

        claims: list[float] = []
        releases: list[float] = []
        claimed_total = 0
        started_all = time.perf_counter()
        while True:
            started = time.perf_counter()
            claimed_at = clock.now()
            ids = queue.claim_due("bench", limit=BATCH, lease_seconds=60)
            claims.append(time.perf_counter() - started)
            if not ids:
                break
            for connection_id in ids:
                started = time.perf_counter()
                queue.finish_due(
                    connection_id,
                    "bench",
                    claimed_at=claimed_at,
                    next_due_at=NOW + timedelta(days=1),
                )
                releases.append(time.perf_counter() - started)
            claimed_total += len(ids)
        all_due = time.perf_counter() - started_all
        started = time.perf_counter()
        assert queue.claim_due("bench", limit=BATCH, lease_seconds=60) == []
        idle = time.perf_counter() - started
        assert claimed_total == due, (claimed_total, due)
        what = "health checks of connected connections" if state == "connected" else "sweep"
        print(
            f"{what} ({label}, {size:,} connections, {due:,} due): "
            f"claiming {BATCH} due rows median {statistics.median(claims) * 1000:.2f} ms, "
            f"releasing one {statistics.median(releases) * 1000:.2f} ms; all {claimed_total:,} "
            f"due claimed and released in {all_due * 1000:.0f} ms; "
            f"a sweep with nothing due {idle * 1000:.2f} ms; plan: {plan(engine)}"
        )
        if state != "connected":
            measure_outbox(engine, label, size, due)
        engine.dispose()


def measure_outbox(engine: Engine, label: str, size: int, owed: int) -> None:
    """The sweep's other half: claiming owed Slack messages and settling them. The outbox
    holds only what is owed (paid rows are deleted); half of it is backing off, not due."""
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM outbox"))
        ids = [row[0] for row in connection.execute(text("SELECT id FROM connections"))]
        rows = [
            {
                "connection_id": ids[i * (len(ids) // (2 * owed))],
                "kind": "progress",
                "created_at": NOW,
                "due_at": NOW - timedelta(seconds=1) if i % 2 == 0 else NOW + timedelta(hours=1),
                "attempts": 0,
            }
            for i in range(2 * owed)
        ]
        connection.execute(insert(table_of(OwedMessage)), rows)
        if engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE outbox"))
    outbox = Outbox(db.make_sessionmaker(engine), ManualClock(NOW))
    claims: list[float] = []
    settled = 0
    started_all = time.perf_counter()
    while True:
        started = time.perf_counter()
        debts = outbox.claim_due("bench", limit=BATCH, lease_seconds=60)
        claims.append(time.perf_counter() - started)
        if not debts:
            break
        outbox.paid([d.id for d in debts])
        settled += len(debts)
    all_owed = time.perf_counter() - started_all
    assert settled == owed, (settled, owed)
    print(
        f"outbox ({label}, {size:,} connections, {owed:,} messages due, {owed:,} backing off): "
        f"claiming {BATCH} median {statistics.median(claims) * 1000:.2f} ms; all due claimed "
        f"and paid in {all_owed * 1000:.0f} ms; a sweep with nothing owed "
        f"{claims[-1] * 1000:.2f} ms"
    )


def measure_idle_looks(url: str, label: str, looks: int = 2000) -> None:
    """What an idle replica pays each second per lane: a claim that finds nothing, then
    the read of when its next item is due; the heartbeat over every leased table; and what
    each outside call adds for the rate all replicas share.
    CPU time of this process (the bot's side), not the database's."""
    db.migrate(url)
    engine = db.make_engine(url)
    fill(engine, 1000, "connected")
    sessions = db.make_sessionmaker(engine)
    clock = ManualClock(NOW - timedelta(days=30))  # nothing is due yet
    queue = DueQueue(sessions, clock)
    outbox = Outbox(sessions, clock)

    def look() -> None:
        assert queue.claim_due("bench", limit=4, lease_seconds=5, lane=PEOPLE) == []
        queue.due_in(PEOPLE)
        assert outbox.claim_due("bench", limit=5, lease_seconds=5) == []
        outbox.due_in()

    def beat() -> None:
        heartbeat([queue.leases, outbox.leases], "bench", 5)

    windows = RateWindows(engine)
    taken = iter(range(10**9))

    def take() -> None:  # what every outside call pays for the shared rate (a window of 5)
        assert windows.take("bench", next(taken) // 5, 5) == 1

    buckets = RateBuckets(engine)

    def turn() -> None:  # what a paced Slack call pays for the replicas' shared bucket
        assert buckets.take("bench", 1e9, 1e9, (1,), now=time.time())[0] == 1

    figures = []
    for what, work in (
        ("a lane's idle look (claim, then when next)", look),
        ("a heartbeat", beat),
        ("a shared rate take", take),
        ("a shared Slack turn", turn),
    ):
        for _ in range(100):
            work()
        started = time.process_time()
        for _ in range(looks):
            work()
        per = (time.process_time() - started) / looks / (2 if work is look else 1)
        figures.append(f"{what} {per * 1000:.2f} ms of CPU")
    print(f"idle replica ({label}): " + "; ".join(figures))
    engine.dispose()


def main(new_postgres: Callable[[], str] | None) -> None:
    """`new_postgres` gives an empty database each time: each measurement fills its own."""
    with tempfile.TemporaryDirectory() as tmp:
        measure_idle_looks(f"sqlite:///{Path(tmp) / 'idle.db'}", "SQLite")
        measure(f"sqlite:///{Path(tmp) / 'sweep.db'}", "SQLite")
    if new_postgres:
        measure(new_postgres(), "PostgreSQL")
        measure_idle_looks(new_postgres(), "PostgreSQL")
