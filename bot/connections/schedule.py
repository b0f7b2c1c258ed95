"""When a stalled connection's owner is reminded, escalated about, and when it expires;
how often TFE is asked for the token.

Pure time arithmetic on a connection's last progress; the sweep asks it what is due.
Reminder slots are nominal times (stalled_at + k * REMIND_EVERY): a slot identifies
"one interval", so a reminder is sent at most once per slot, whoever sends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.connections.states import State

# States in which the owner has the next move; only these are reminded.
OWNER_MUST_ACT = frozenset(
    {
        State.AWAITING_CREDENTIALS,
        State.AWAITING_CALLBACK,
        State.AWAITING_AUTHORIZATION,
        State.AWAITING_LINK,
        State.AWAITING_SSH_KEY,
    }
)

# States in which someone must act before the connection can go on: the owner, or (while
# it waits for approval) the approvers. Only these are reminded and escalated.
PEOPLE_MUST_ACT = OWNER_MUST_ACT | {State.AWAITING_APPROVAL}

# The most often a connection waiting for the owner to authorize is checked before
# they open the link (in case they authorize from the TFE UI instead).
UNCLICKED_CHECK_EVERY = 60.0
# However long the wait, a clicked connection is checked at least this often.
SLOWEST_CHECK_EVERY = 60.0

# The owner's night, local time: a reminder due then waits for MORNING.
NIGHT_STARTS = time(21, 0)
MORNING = time(9, 0)


@dataclass(frozen=True)
class StallPolicy:
    stall_after: float
    remind_every: float
    escalate_after: int
    expire_after: float


def stalled_at(progressed_at: datetime, policy: StallPolicy) -> datetime:
    return progressed_at + timedelta(seconds=policy.stall_after)


def expires_at(progressed_at: datetime, policy: StallPolicy) -> datetime:
    """A connection expires EXPIRE_AFTER seconds after its last progress."""
    return progressed_at + timedelta(seconds=policy.expire_after)


def reminder_slot(progressed_at: datetime, now: datetime, policy: StallPolicy) -> datetime | None:
    """The nominal time of the reminder interval `now` falls in; None before the stall."""
    start = stalled_at(progressed_at, policy)
    if now < start:
        return None
    every = timedelta(seconds=policy.remind_every)
    # timedelta arithmetic is in whole microseconds: no float rounding at slot edges.
    return start + ((now - start) // every) * every


def next_slot(progressed_at: datetime, now: datetime, policy: StallPolicy) -> datetime:
    """The first reminder slot after `now`."""
    current = reminder_slot(progressed_at, now, policy)
    if current is None:
        return stalled_at(progressed_at, policy)
    return current + timedelta(seconds=policy.remind_every)


def owner_zone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def morning_after_night(now: datetime, zone: tzinfo | None) -> datetime | None:
    """If `now` is night where the owner is, the coming local MORNING (as UTC); else None."""
    if zone is None:
        return None
    local = now.astimezone(zone)
    clock = local.time()
    if MORNING <= clock < NIGHT_STARTS:
        return None
    day = local.date() if clock < MORNING else local.date() + timedelta(days=1)
    morning = datetime.combine(day, MORNING, tzinfo=zone)
    return morning.astimezone(now.tzinfo)


def authorize_hint_after(poll_every: float) -> float:
    """How long after the click a missing token is worth a hint: 3 minutes at the default."""
    return 36 * poll_every


def token_check_interval(clicked_at: datetime | None, now: datetime, poll_every: float) -> float:
    """Seconds until the next token check: `poll_every` at first, growing to a minute."""
    if clicked_at is None:
        return max(UNCLICKED_CHECK_EVERY, poll_every)
    elapsed = max(0.0, (now - clicked_at).total_seconds())
    return min(max(SLOWEST_CHECK_EVERY, poll_every), poll_every * (1 + elapsed / 60))
