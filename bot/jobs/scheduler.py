"""APScheduler wiring: the periodic housekeeping. Due work (token checks, reminders, health
checks, owed messages) runs in the lanes of bot/jobs/lanes.py; what is due lives in the
database, not here."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from bot.connections.leases import HEARTBEAT_SECONDS
from bot.jobs.due import DueWork
from bot.jobs.lanes import LONGEST_IDLE
from bot.slack.deliveries import Deliveries
from bot.slack.directory import MemberDirectory

log = logging.getLogger(__name__)

# Slack retries a delivery within minutes; a day is far more than enough to spot repeats.
DELIVERY_MEMORY = timedelta(days=1)
# Every replica reads a change within a second; a starting one reads Slack's list instead.
CHANGE_MEMORY = timedelta(days=1)
# How often other replicas' membership news is read: as often as a lane looks for their work.
CHANGES_EVERY = LONGEST_IDLE


def sweep_interval(token_poll_every: float) -> float:
    """How often to look for due work: often enough to honour TOKEN_POLL_EVERY."""
    return min(1.0, max(0.05, token_poll_every / 2))


def start_scheduler(
    due: DueWork, deliveries: Deliveries, directory: MemberDirectory
) -> BackgroundScheduler:
    """Start the background jobs; the caller shuts the scheduler down."""
    scheduler = BackgroundScheduler(timezone=UTC)

    def every(job: Callable[[], object], name: str, *, now: bool = False, **period: float) -> None:
        # One run at a time; runs missed while one was slow are one run, not a burst.
        scheduler.add_job(
            job,
            "interval",
            id=name,
            max_instances=1,
            coalesce=True,
            **period,
            **({"next_run_time": datetime.now(UTC)} if now else {}),
        )

    every(due.renew_leases, "heartbeat", seconds=HEARTBEAT_SECONDS)
    # Who is a full member: Slack's list now and hourly, other replicas' news every second.
    every(directory.load_if_due, "member-list", minutes=1, now=True)
    every(directory.catch_up, "member-changes", seconds=CHANGES_EVERY)
    every(lambda: _forget(deliveries, directory), "forget", hours=1)
    scheduler.start()
    log.info("scheduler started", extra={"worker": due.worker})
    return scheduler


def _forget(deliveries: Deliveries, directory: MemberDirectory) -> None:
    deliveries.forget(DELIVERY_MEMORY)
    directory.changes.forget(CHANGE_MEMORY)
