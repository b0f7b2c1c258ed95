"""Slow work that runs after Slack has its acknowledgement, on a pool of its own."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger(__name__)


# A form costs one or two Slack calls (views.open; users.info first for someone the member
# directory does not know), at most 0.3 s at production round trips, so four threads open
# at least 13 forms a second: a burst of 40 within a trigger's 3 seconds.
# More threads would only contend for the GIL: with 8, a command cost 10-20% more CPU
# (benchmarks/side_by_side.py).
URGENT_THREADS = 4


class BackgroundWork:
    """A thread pool for TFE, Bitbucket and Slack calls, so acks never wait behind them."""

    def __init__(self, max_workers: int = 16) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="work")
        # Calls bound to a trigger_id (views.open) must land within Slack's 3 seconds, so
        # they get threads of their own and never queue behind TFE calls.
        self._urgent = ThreadPoolExecutor(max_workers=URGENT_THREADS, thread_name_prefix="urgent")

    def submit(
        self,
        what: str,
        fn: Callable[[], object],
        *,
        connection: int | None = None,
        on_error: Callable[[Exception], None] | None = None,
        urgent: bool = False,
    ) -> Future[None]:
        """Run `fn` later; an exception is logged (never its arguments) and handed to on_error."""

        def run() -> None:
            try:
                fn()
            except Exception as error:
                log.error(
                    "%s failed",
                    what,
                    extra={"connection": connection, "error": type(error).__name__},
                    exc_info=True,
                )
                if on_error is not None:
                    try:
                        on_error(error)
                    except Exception:
                        log.exception(
                            "telling the user about a failure failed too",
                            extra={"connection": connection},
                        )

        return (self._urgent if urgent else self._pool).submit(run)

    def shutdown(self, wait: bool = True) -> None:
        self._urgent.shutdown(wait=wait, cancel_futures=not wait)
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
