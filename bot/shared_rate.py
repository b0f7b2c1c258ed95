"""One rate for all replicas: TFE_RATE is what Terraform allows one token, and every replica
uses the same token, so each second's calls are counted in the database they share.

Each second is cut into a few windows (five at the default 25 a second), each with its
share of the rate: counted per calendar second, two replicas could spend the end of one
second and the start of the next in one burst, past the limit in any sliding second (a
benchmark with two replicas drew 24 429s in 527 calls that way). A replica takes its calls
from the current window's row in the database, and spends them through its own token
bucket; when the window's share is gone it waits for the next window.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.engine import Engine

from bot.clients.http import RateLimiter
from bot.connections.rate_windows import RateWindows

log = logging.getLogger(__name__)


class SharedRateLimiter(RateLimiter):
    """A RateLimiter whose per-second budget is shared through the database."""

    def __init__(
        self,
        engine: Engine,
        name: str,
        per_second: float,
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(per_second)
        self._windows_kept = RateWindows(engine)
        self._name = name
        # Windows a second, each allowing at least one call; a sliding second then holds at
        # most one window more than the rate (30 at 25 a second: TFE's documented limit).
        self._windows = min(5, max(1, int(per_second)))
        self._rate = per_second
        self._limit = max(1, int(per_second / self._windows))
        # Calls taken per transaction: a few, so that replicas share a window fairly and one
        # that stops using its block wastes little.
        self._block = max(1, self._limit // 3)
        self._now = now
        self._second = -1
        self._left = 0
        self._shared = threading.Lock()
        self._warned_at = -60.0

    def acquire(self) -> None:
        """Wait for this replica's own bucket (which spreads its calls over the second),
        then until it holds one of the current second's shared calls: the call is made in
        the second it was counted in."""
        super().acquire()
        while True:
            with self._shared:
                window = int(self._now() * self._windows)
                if window != self._second:
                    self._second, self._left = window, 0
                if self._left == 0:
                    self._left = self._take(window)
                if self._left > 0:
                    self._left -= 1
                    break
                wait = (window + 1) / self._windows - self._now()
            time.sleep(max(0.0, min(wait, 1.0)))

    def _take(self, second: int) -> int:
        """Reserve up to a block of this window's calls (`second` numbers the window);
        returns how many were had."""
        try:
            return self._windows_kept.take(
                self._name, second, self._limit_of(second), (self._block, 1)
            )
        except Exception:
            # The database is the bot's lifeline anyway; without it, pace as one replica. Said
            # once a minute, not at every call.
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning("could not read the shared Terraform rate; pacing alone")
            return 1

    def _limit_of(self, window: int) -> int:
        """This window's share: the second's whole calls spread over its windows (21.25 a
        second in five windows is 4, 4, 4, 5, 4), so a rate that does not divide evenly is
        still used to its whole calls, not rounded down in every window."""
        i = window % self._windows
        share = int((i + 1) * self._rate / self._windows) - int(i * self._rate / self._windows)
        return max(1, share)
