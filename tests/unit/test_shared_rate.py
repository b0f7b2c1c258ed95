"""TFE_RATE is one budget for every replica: two limiters on one database together stay
under it each second, and use most of it. Slack's tiers likewise: the replicas take their
turns from one bucket."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from bot import db
from bot.shared_rate import SharedRateLimiter


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database's engine, disposed after the test."""
    db.migrate(database_url)
    engine = db.make_engine(database_url)
    yield engine
    engine.dispose()


def test_two_replicas_share_one_rate(database_url: str) -> None:
    db.migrate(database_url)
    engines = [db.make_engine(database_url) for _ in range(2)]
    limiters = [SharedRateLimiter(e, "tfe", 10) for e in engines]
    taken: list[float] = []
    lock = threading.Lock()
    start = time.time()
    stop_at = int(start) + 4  # three whole seconds after the one we start in

    def call(limiter: SharedRateLimiter) -> None:
        while True:
            limiter.acquire()
            now = time.time()
            if now >= stop_at:
                return
            with lock:
                taken.append(now)

    threads = [threading.Thread(target=call, args=(lim,)) for lim in limiters for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for engine in engines:
        engine.dispose()
    per_second = Counter(int(t) for t in taken)
    whole = [per_second[s] for s in range(int(start) + 1, stop_at)]
    # Two replicas pacing alone would make about 20 a second; shared, 10, and a call or two
    # noted late on a busy machine (the time is taken after the limiter lets it go).
    assert all(n <= 12 for n in per_second.values()), per_second
    # Nor in any sliding second much more: one window (a fifth of the rate) over it, and a
    # call or two whose time was noted late on a busy machine. Counted per calendar second,
    # the end of one second and the start of the next could be spent in one burst (20).
    times = sorted(taken)
    densest = max(sum(1 for u in times[i:] if u - t < 1.0) for i, t in enumerate(times))
    assert densest <= 14, densest
    # The budget is used, not wasted: in two whole seconds of three (a busy machine has
    # stalled both replicas' threads for a whole second on SQLite's write lock).
    assert sorted(whole)[-2] >= 0.8 * 10, whole


def test_a_rate_that_does_not_divide_is_used_to_its_whole_calls() -> None:
    """21.25 a second in five windows: 4, 4, 4, 5, 4 (21 a second), not 4 in each (20)."""
    from bot.shared_rate import SharedRateLimiter

    limiter = SharedRateLimiter(None, "share", 21.25)  # type: ignore[arg-type]
    shares = [limiter._limit_of(window) for window in range(10)]
    assert sum(shares[:5]) == sum(shares[5:]) == 21
    assert max(shares) - min(shares) == 1
    even = SharedRateLimiter(None, "even", 25)  # type: ignore[arg-type]
    assert [even._limit_of(w) for w in range(5)] == [5, 5, 5, 5, 5]


def test_two_replicas_pace_slack_as_one_app(engine: Engine) -> None:
    # Each replica's own pace would let a minute's burst of views.publish through (100
    # each); sharing the database, both together get one burst, then the tier's rate.
    from bot.connections.rate_buckets import RateBuckets
    from bot.slack.pacing import PER_MINUTE, SlackPacer

    wall = [1_000_000 * 60.0 - 1.0]  # a second before a minute turns
    replicas = [
        SlackPacer(lambda: wall[0], shared=RateBuckets(engine), wall=lambda: wall[0])
        for _ in range(2)
    ]
    tier = PER_MINUTE["views.publish"]
    went = sum(
        1 for _ in range(75) for pacer in replicas if pacer.wait_for("views.publish", None) == 0
    )
    assert went == tier  # 100 of the 150 tries, not 150
    waits = [pacer.wait_for("views.publish", None) for pacer in replicas]
    assert all(0 < w <= 60 / tier + 0.01 for w in waits), waits  # a turn is back soon
    # Just after the minute turns, only what Slack's bucket gave back in 2 s (counted in
    # calendar minutes, a second burst went here, and Slack refused it).
    wall[0] += 2.0
    after = sum(1 for _ in range(150) if replicas[1].wait_for("views.publish", None) == 0)
    assert after == int(2 * tier / 60), after
    # Half a minute on, half the tier is back, for either (refused tries spent no turn of
    # a replica's own).
    wall[0] += 30.0
    half = sum(1 for _ in range(150) if replicas[1].wait_for("views.publish", None) == 0)
    assert half == tier // 2, half
    alone = SlackPacer(wall=lambda: wall[0])
    assert sum(1 for _ in range(120) if alone.wait_for("views.publish", None) == 0) == 100
    # A try the replicas together had no room for spent none of the replica's own turns.
    refused = sum(1 for _ in range(300) if replicas[0].wait_for("views.publish", None) > 0)
    replicas[0].shared = None
    own = sum(1 for _ in range(120) if replicas[0].wait_for("views.publish", None) == 0)
    assert (refused, own) == (300, tier), (refused, own)  # its own burst, whole


def test_a_shared_bucket_starts_full_refills_at_its_rate_and_ignores_a_clock_behind(
    engine: Engine,
) -> None:
    from bot.connections.rate_buckets import RateBuckets

    buckets = RateBuckets(engine)
    assert buckets.take("slack:x", 1.0, 5, (3, 1), now=100.0) == (3, 0.0)  # a new bucket: full
    assert buckets.take("slack:x", 1.0, 5, (3, 1), now=100.0) == (1, 0.0)  # 3 would not fit
    assert buckets.take("slack:x", 1.0, 5, (3, 1), now=100.0) == (1, 0.0)
    taken, wait = buckets.take("slack:x", 1.0, 5, (3, 1), now=100.0)
    assert taken == 0 and wait == pytest.approx(1.0)  # empty: one turn back in a second
    taken, wait = buckets.take("slack:x", 1.0, 5, (1,), now=99.0)  # a replica's clock behind
    assert taken == 0 and wait == pytest.approx(1.0)  # gains nothing, loses nothing
    assert buckets.take("slack:x", 1.0, 5, (1,), now=100.5)[0] == 0
    assert buckets.take("slack:x", 1.0, 5, (1,), now=101.0)[0] == 1
    assert buckets.take("slack:x", 1.0, 5, (3, 1), now=1000.0) == (3, 0.0)  # full, not 900
    assert buckets.take("slack:x", 1.0, 5, (3, 1), now=1000.0) == (1, 0.0)
    assert buckets.take("slack:y", 1.0, 2, (3, 1), now=1000.0) == (1, 0.0)  # apart; 3 > 2


def test_a_window_gives_what_fits_the_first_want_that_fits_and_forgets_old_windows(
    engine: Engine,
) -> None:
    from sqlalchemy import func, select

    from bot.connections.model import RateWindow
    from bot.connections.rate_windows import KEEP_WINDOWS, RateWindows

    windows = RateWindows(engine)
    assert windows.take("tfe", 10, 5, (3, 1)) == 3  # a new window's row holds the first take
    assert windows.take("tfe", 10, 5, (3, 1)) == 1  # 3 more would pass 5: one fits
    assert windows.take("tfe", 10, 5, (3, 1)) == 1
    assert windows.take("tfe", 10, 5, (3, 1)) == 0  # full
    assert windows.take("slack", 10, 5) == 1  # another name counts apart
    assert windows.take("tfe", 11, 2, (3, 1)) == 1  # a want past the limit never fits
    windows.take("tfe", 10 + KEEP_WINDOWS + 1, 5)  # far on: old windows are deleted
    with engine.connect() as connection:
        kept = connection.execute(
            select(RateWindow.name, RateWindow.second, RateWindow.used).order_by(
                RateWindow.name, RateWindow.second
            )
        ).all()
        assert connection.scalar(select(func.count()).select_from(RateWindow)) == 3
    assert [tuple(row) for row in kept] == [
        ("slack", 10, 1),
        ("tfe", 11, 1),
        ("tfe", 10 + KEEP_WINDOWS + 1, 1),
    ]
