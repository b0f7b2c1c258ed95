"""An idle lane sleeps until its next item is due instead of looking every `idle`, and a
wake that comes while it is claiming is not lost."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

from bot.jobs.lanes import LONGEST_IDLE, Lane


def looks(until_due: Callable[[], float | None], seconds: float) -> list[float]:
    """When an idle lane (every 20 ms, were it not told more) claimed, over `seconds`."""
    started = time.monotonic()
    claims: list[float] = []

    def claim(_free: int) -> list[int]:
        claims.append(time.monotonic() - started)
        return []

    lane: Lane[int] = Lane("test", claim, lambda _: None, threads=1, idle=0.02, until_due=until_due)
    lane.start()
    time.sleep(seconds)
    lane.stop()
    return claims


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def test_with_nothing_scheduled_it_looks_only_every_longest_idle() -> None:
    claims = looks(lambda: None, 2.5)
    assert 2 <= len(claims) <= 4, claims  # at 0, 1 and 2 s; at 20 ms it would be 125
    assert all(gap >= LONGEST_IDLE * 0.9 for gap in gaps(claims)), claims


def test_it_looks_again_when_the_next_item_is_due() -> None:
    claims = looks(lambda: 0.2, 1.5)
    assert len(claims) >= 3, claims  # not once a LONGEST_IDLE
    assert all(gap >= 0.15 for gap in gaps(claims)), claims  # nor every 20 ms


def test_something_due_but_not_claimable_is_looked_at_every_idle() -> None:
    claims = looks(lambda: -1.0, 0.5)
    assert len(claims) >= 5, claims  # another worker is taking it: no long sleep


def test_a_wake_while_claiming_is_kept() -> None:
    woken = threading.Event()
    claims: list[float] = []
    started = time.monotonic()
    lane: Lane[int]

    def claim(_free: int) -> list[int]:
        claims.append(time.monotonic() - started)
        if len(claims) == 1:
            lane.wake()  # a commit made work due while the lane was still claiming
            woken.set()
        return []

    lane = Lane("test", claim, lambda _: None, threads=1, idle=0.02, until_due=lambda: None)
    lane.start()
    woken.wait(2)
    time.sleep(0.5)
    lane.stop()
    assert len(claims) >= 2 and claims[1] < 0.6, claims  # not a whole LONGEST_IDLE later


def test_a_finished_item_makes_it_look_again_at_once() -> None:
    """The item's own run may have made it due again soon (a token check's next look)."""
    handled = threading.Event()
    claims: list[float] = []
    started = time.monotonic()

    def claim(_free: int) -> list[int]:
        claims.append(time.monotonic() - started)
        return [1] if len(claims) == 1 else []

    def handle(_item: int) -> None:
        time.sleep(0.1)
        handled.set()

    lane: Lane[int] = Lane("test", claim, handle, threads=1, idle=0.02, until_due=lambda: None)
    lane.start()
    handled.wait(2)
    time.sleep(0.3)
    lane.stop()
    after = [t for t in claims if t >= 0.1]
    assert after and after[0] < 0.6, claims  # not a whole LONGEST_IDLE later
