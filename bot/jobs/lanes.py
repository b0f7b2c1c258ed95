"""Lanes of due work: each kind has its own threads and its own claims, so what a person is
waiting on (a token check after Authorize, a reminder, an owed message) never queues behind
bulk work (a round of health checks, a move of workspaces).

A lane claims as soon as one of its threads is free, not once a tick: its pace is set by how
fast its work goes and, for bulk work, by its share of the Terraform rate, not by the sweep.
When nothing is due it sleeps until its next item is (where it can tell), woken sooner by
this process's commits, and looks at least every `LONGEST_IDLE` for other replicas' work.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from typing import Generic, TypeVar

from bot.clients.http import RateLimiter, paced_by

log = logging.getLogger(__name__)

# The longest a lane that knows its next item sleeps before looking again: what another
# replica made due (or a dead one's lease let go) is found within this.
LONGEST_IDLE = 1.0
# Looking this long after an item's due time finds it due (`next_due_at <= now`).
_AFTER_DUE = 0.005

Item = TypeVar("Item")


class Lane(Generic[Item]):
    """Claims items with `claim(free)` and runs `handle(item)` on up to `threads` threads.

    With `pace`, every outside call its threads make also waits its turn there (the bulk
    lane's share of the Terraform rate, so people's work always finds room). With
    `until_due` (seconds until its next item is due, None for none), an idle lane sleeps
    until then (at most `LONGEST_IDLE`) instead of looking every `idle`.
    """

    def __init__(
        self,
        name: str,
        claim: Callable[[int], Sequence[Item]],
        handle: Callable[[Item], object],
        *,
        threads: int,
        idle: float,
        pace: RateLimiter | None = None,
        around: Callable[[], AbstractContextManager[object]] = nullcontext,
        until_due: Callable[[], float | None] | None = None,
    ) -> None:
        self.name = name
        self._claim = claim
        self._handle = handle
        self.threads = threads
        self.idle = idle  # how long to wait before looking again when nothing was due
        self.pace = pace
        self.around = around  # what every item runs inside (no waiting out Slack's 429s)
        self._until_due = until_due
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"lane-{name}")
        self._in_flight = 0
        self._changed = threading.Condition()
        self._woken = False  # a wake() since the last look: look again before sleeping
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"lane-{self.name}", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            started = self._dispatch()
            # Nothing claimed with threads free: sleep until the next item is due. All busy:
            # a thread that finishes wakes the lane.
            wait = self._idle_for() if started == 0 else self.idle
            with self._changed:
                if self._stopping.is_set():
                    break
                if started and self._in_flight < self.threads:
                    continue  # there may be more due: claim again while threads are free
                if not self._woken:
                    self._changed.wait(wait)
                self._woken = False

    def _idle_for(self) -> float:
        """How long to sleep with nothing claimed: until the next item is due, if known."""
        if self._until_due is None:
            return self.idle
        try:
            due_in = self._until_due()
        except Exception:
            log.exception("reading when work is next due failed", extra={"state": self.name})
            return self.idle
        longest = max(self.idle, LONGEST_IDLE)
        if due_in is None:
            return longest
        if due_in <= 0:  # due but not claimable (another worker is taking it): look soon
            return self.idle
        return min(longest, due_in + _AFTER_DUE)

    def wake(self) -> None:
        """Look now: something became due in this process (other replicas' work is found
        at the next idle look). A wake while the lane is busy claiming is kept for then."""
        with self._changed:
            self._woken = True
            self._changed.notify_all()

    def _dispatch(self) -> int | None:
        """Claim for the free threads and hand out what came; None when none was free."""
        with self._changed:
            free = self.threads - self._in_flight
        if free <= 0:
            return None
        try:
            items = list(self._claim(free))
        except Exception:
            log.exception("claiming due work failed", extra={"state": self.name})
            return 0
        for item in items:
            with self._changed:
                self._in_flight += 1
            try:
                self._pool.submit(self._one, item)
            except RuntimeError:  # shutting down: the claim's lease frees it for later
                with self._changed:
                    self._in_flight -= 1
        return len(items)

    def _one(self, item: Item) -> None:
        try:
            with self.around(), paced_by(self.pace) if self.pace else nullcontext():
                self._handle(item)
        except Exception:
            log.exception("due work failed", extra={"state": self.name})
        finally:
            with self._changed:
                self._in_flight -= 1
                self._woken = True  # a thread is free, and this item may be due again soon
                self._changed.notify_all()

    def stop(self) -> None:
        """Claim nothing more; let the work in hand finish (what was claimed but not begun
        is left to its lease, which a restart frees at once)."""
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)
