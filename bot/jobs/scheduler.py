"""APScheduler wiring: what runs when. What is due lives in the database, not here."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from bot.jobs.due import DueWork
from bot.slack.deliveries import Deliveries

log = logging.getLogger(__name__)

# Slack retries a delivery within minutes; a day is far more than enough to spot repeats.
DELIVERY_MEMORY = timedelta(days=1)


def sweep_interval(token_poll_every: float) -> float:
    """How often to look for due work: often enough to honour TOKEN_POLL_EVERY."""
    return min(1.0, max(0.05, token_poll_every / 2))


def start_scheduler(due: DueWork, deliveries: Deliveries, tick: float) -> BackgroundScheduler:
    """Start the background jobs; the caller shuts the scheduler down."""
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(
        due.sweep,
        "interval",
        seconds=tick,
        id="sweep",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),
    )
    scheduler.add_job(
        lambda: deliveries.forget(DELIVERY_MEMORY),
        "interval",
        hours=1,
        id="forget-deliveries",
        max_instances=1,
        coalesce=True,
    )
    scheduler.start()
    log.info("scheduler started", extra={"worker": due.worker})
    return scheduler
