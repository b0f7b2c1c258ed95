"""What every outside call shares: timeouts, one rate limit per service, retries with backoff."""

from __future__ import annotations

import email.utils
import functools
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@functools.cache
def tls() -> ssl.SSLContext:
    """One TLS context for every client of the process: httpx would build (and read the
    CA bundle into) a new one for each, some 13 ms of CPU a client. A context is safe to
    share between threads."""
    return httpx.create_ssl_context()


class RateLimiter:
    """A token bucket shared by every caller of one service, across all connections."""

    def __init__(self, per_second: float, burst: int = 1) -> None:
        # Any one-second window sees at most per_second + burst requests.
        self._rate = per_second
        self._capacity = float(burst)
        self._tokens = self._capacity
        self._updated = time.monotonic()
        self._lock = threading.Lock()
        self._blocked_until = 0.0

    def acquire(self) -> None:
        """Wait until one more request is allowed."""
        while True:
            with self._lock:
                now = time.monotonic()
                if now < self._blocked_until:
                    wait = self._blocked_until - now
                else:
                    self._tokens = min(
                        self._capacity, self._tokens + (now - self._updated) * self._rate
                    )
                    self._updated = now
                    if self._tokens >= 1:
                        self._tokens -= 1
                        return
                    wait = (1 - self._tokens) / self._rate
            time.sleep(wait)

    def pause(self, seconds: float) -> None:
        """The service said to slow down: hold every caller back for a while."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, time.monotonic() + seconds)


_share = threading.local()


@contextmanager
def paced_by(limiter: RateLimiter) -> Iterator[None]:
    """Calls made in this thread meanwhile also wait their turn on `limiter`: a lane's share
    of a service's rate (bulk work takes its share; people's work the rest)."""
    previous = getattr(_share, "limiter", None)
    _share.limiter = limiter
    try:
        yield
    finally:
        _share.limiter = previous


def _acquire(limiter: RateLimiter) -> None:
    share: RateLimiter | None = getattr(_share, "limiter", None)
    if share is not None:
        share.acquire()
    limiter.acquire()


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 20.0


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait, from Retry-After (seconds or a date) or X-RateLimit-Reset."""
    value = response.headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                return max(0.0, (when - datetime.now(UTC)).total_seconds())
    reset = response.headers.get("X-RateLimit-Reset")
    if reset:
        try:
            return max(0.0, float(reset))
        except ValueError:
            return None
    return None


class Exhausted(Exception):
    """Every attempt failed; carries the last response or transport error."""

    def __init__(self, response: httpx.Response | None, error: httpx.HTTPError | None) -> None:
        super().__init__("the service did not answer successfully")
        self.response = response
        self.error = error


def send_with_retries(
    send: Callable[[], httpx.Response],
    *,
    limiter: RateLimiter,
    policy: RetryPolicy,
    retry_statuses: frozenset[int] = RETRY_STATUSES,
    retry_transport_errors: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> httpx.Response:
    """Call `send` until it answers with something other than 429/5xx, or give up.

    A create retries only 429 and no transport error: a 5xx or an answer lost in
    transit may mean the thing exists, and the caller must look before trying again.
    """
    last_response: httpx.Response | None = None
    last_error: httpx.HTTPError | None = None
    for attempt in range(policy.attempts):
        _acquire(limiter)
        try:
            response = send()
        except httpx.TransportError as error:
            last_error, last_response = error, None
            if not retry_transport_errors:
                raise
            log.warning("request failed, will retry: %s", type(error).__name__)
        else:
            if response.status_code not in retry_statuses:
                return response
            last_response, last_error = response, None
            wait = retry_after(response)
            if response.status_code == 429:
                limiter.pause(wait if wait is not None else policy.base_delay * 2**attempt)
            log.warning("request answered %s, will retry", response.status_code)
            if wait is not None and wait > policy.max_delay:
                break
        if attempt + 1 < policy.attempts:
            delay = (
                retry_after(last_response) if last_response is not None else None
            ) or policy.base_delay * 2**attempt * (0.5 + random.random())
            sleep(min(delay, policy.max_delay))
    raise Exhausted(last_response, last_error)
