"""Reminder slots, expiry and the owner's night, on a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from bot.connections import schedule

POLICY = schedule.StallPolicy(
    stall_after=86400, remind_every=86400, escalate_after=3, expire_after=14 * 86400
)
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_no_reminder_before_the_stall() -> None:
    assert schedule.reminder_slot(T0, at(23.9), POLICY) is None
    assert schedule.next_slot(T0, at(1), POLICY) == at(24)


def test_slots_are_fixed_intervals_after_the_stall() -> None:
    assert schedule.reminder_slot(T0, at(24), POLICY) == at(24)
    assert schedule.reminder_slot(T0, at(47.9), POLICY) == at(24)
    assert schedule.reminder_slot(T0, at(48), POLICY) == at(48)
    assert schedule.next_slot(T0, at(30), POLICY) == at(48)


def test_expiry_counts_from_the_last_progress() -> None:
    assert schedule.expires_at(T0, POLICY) == at(14 * 24)


@given(st.floats(min_value=0, max_value=30 * 24), st.floats(min_value=0.001, max_value=48))
def test_a_slot_never_lies_in_the_future_and_the_next_one_follows(
    hours: float, every: float
) -> None:
    policy = schedule.StallPolicy(3600, every * 3600, 3, 10**9)
    now = at(hours)
    slot = schedule.reminder_slot(T0, now, policy)
    following = schedule.next_slot(T0, now, policy)
    assert following > now
    if slot is not None:
        assert (
            slot <= now < slot + timedelta(seconds=policy.remind_every) + timedelta(microseconds=1)
        )


def test_night_waits_for_the_local_morning() -> None:
    amsterdam = ZoneInfo("Europe/Amsterdam")
    late = datetime(2026, 3, 2, 22, 30, tzinfo=amsterdam).astimezone(UTC)
    early = datetime(2026, 3, 3, 6, 0, tzinfo=amsterdam).astimezone(UTC)
    day = datetime(2026, 3, 3, 14, 0, tzinfo=amsterdam).astimezone(UTC)
    morning = datetime(2026, 3, 3, 9, 0, tzinfo=amsterdam).astimezone(UTC)
    assert schedule.morning_after_night(late, amsterdam) == morning
    assert schedule.morning_after_night(early, amsterdam) == morning
    assert schedule.morning_after_night(day, amsterdam) is None
    assert schedule.morning_after_night(late, None) is None  # zone unknown: no night rule


def test_morning_respects_daylight_saving() -> None:
    # Europe/Amsterdam moves to summer time on 2026-03-29 at 02:00.
    zone = ZoneInfo("Europe/Amsterdam")
    night = datetime(2026, 3, 28, 23, 0, tzinfo=zone).astimezone(UTC)
    morning = schedule.morning_after_night(night, zone)
    assert morning is not None and morning.astimezone(zone).hour == 9
    assert morning == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)


def test_unknown_zone_names_are_ignored() -> None:
    assert schedule.owner_zone("Mars/Olympus") is None
    assert schedule.owner_zone("") is None
    assert schedule.owner_zone("Asia/Tokyo") == ZoneInfo("Asia/Tokyo")
