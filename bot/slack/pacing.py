"""Slack's rate limits, kept ahead of time: each method the bot calls is paced to its tier,
and chat.postMessage to about one message a second per channel (short bursts allowed), so a
flood of owed messages meets no 429 of our own making.

Paced: work in the background (the outbox, due work). A short turn is waited for; a longer
one refuses the call at once as Slack would (a 429 with Retry-After), and the outbox sends
that message when its turn comes.

Slack's limits are per app, not per replica: with `shared` set, each turn is also taken
from a bucket kept in the shared database, the same burst and rate, so N replicas together
pace as one app.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

# Calls a minute, by Slack's documented tiers (Tier 2: 20, Tier 3: 50, Tier 4: 100).
PER_MINUTE = {
    "users.list": 20,
    "usergroups.users.list": 20,
    "auth.teams.list": 20,
    "chat.update": 50,
    "conversations.open": 50,
    "conversations.history": 50,
    "chat.postEphemeral": 100,
    "views.publish": 100,
    "views.open": 100,
    "views.update": 100,
    "users.info": 100,
}
# chat.postMessage: about one a second in one channel, a few at once (a little under what
# Slack allows, so clocks that differ a little never meet a 429).
POSTS_PER_SECOND = 0.9
POST_BURST = 3


class Bucket:
    """A token bucket: `burst` at once, then `rate` a second."""

    def __init__(self, rate: float, burst: float, now: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.at = now()
        self.now = now

    def take(self) -> float:
        """Take a call now if there is room (0.0), else how long until there is."""
        now = self.now()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate

    def give_back(self) -> None:
        """Return a turn taken but not used."""
        self.tokens = min(self.burst, self.tokens + 1)


class SharedBuckets(Protocol):
    def take(
        self, name: str, rate: float, burst: float, wants: tuple[int, ...], *, now: float
    ) -> tuple[int, float]: ...


# Turns are taken from the shared bucket a tenth of a burst at a time (a busy minute costs a
# write per several calls) and kept at most this long: turns held unspent are ones Slack's
# own bucket does not know were taken.
HOLD_SECONDS = 1.0


class SlackPacer:
    """Per method, and per channel for chat.postMessage; safe to share between threads."""

    def __init__(
        self,
        now: Callable[[], float] = time.monotonic,
        *,
        shared: SharedBuckets | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._now = now
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._lock = threading.Lock()
        self.shared = shared  # the database every replica takes its turns from
        self._wall = wall  # the shared buckets are counted by the clock all replicas share
        self._warned_at = -60.0
        # Turns taken from the shared bucket but not spent yet, by name: (until, left).
        self._held: dict[str, tuple[float, int]] = {}

    def interval(self, method: str, channel: str | None) -> float:
        """Seconds between two calls at the method's steady pace (0 when it is not paced)."""
        rate = _rate(method, channel)
        return 1 / rate[0] if rate else 0.0

    def wait_for(self, method: str, channel: str | None) -> float:
        """Take a turn for this call: 0.0 when it may go now, else the seconds until its
        turn (nothing is taken then)."""
        paced = _rate(method, channel)
        if paced is None:
            return 0.0
        rate, burst = paced
        key = (method, channel or "") if method == "chat.postMessage" else (method, "")
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = Bucket(rate, burst, self._now)
            wait = bucket.take()
        if wait > 0 or self.shared is None:
            return wait
        wait = self._shared_turn(method, key[1], rate, burst)
        if wait > 0:  # the replicas together had no room: this replica's turn is not spent
            with self._lock:
                bucket.give_back()
        return wait

    def _shared_turn(self, method: str, channel: str, rate: float, burst: float) -> float:
        """0.0 when the replicas together have a turn, else the seconds until they may.
        Without the database, each replica paces alone (said once a minute)."""
        assert self.shared is not None
        # rate_buckets names are 32 characters: a channel's posts go by the channel alone.
        name = f"slack-post:{channel}"[:32] if channel else f"slack:{method}"[:32]
        now = self._wall()
        with self._lock:
            until, left = self._held.get(name, (0.0, 0))
            if left > 0 and now < until:
                self._held[name] = (until, left - 1)
                return 0.0
        block = max(1, int(burst // 10))  # replicas share a burst fairly
        try:
            taken, wait = self.shared.take(
                name, rate, burst, (block, 1) if block > 1 else (1,), now=now
            )
        except Exception:
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning("could not read the shared Slack pace; pacing alone")
            return 0.0
        if taken:
            with self._lock:
                self._held[name] = (now + HOLD_SECONDS, taken - 1)
            return 0.0
        return max(0.01, wait)


def _rate(method: str, channel: str | None) -> tuple[float, float] | None:
    """(calls a second, burst) for the method, per channel for chat.postMessage."""
    if method == "chat.postMessage" and channel:
        return POSTS_PER_SECOND, float(POST_BURST)
    if method in PER_MINUTE:
        return PER_MINUTE[method] / 60, float(PER_MINUTE[method])
    return None
