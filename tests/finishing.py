"""Many connections finishing at once: started straight in the store, then owed what the
token watch owes when Terraform holds the token (the Home tab first, then the channel's
notice), and timed until each channel has its notice. For tests and `benchmarks/notices.py`."""

from __future__ import annotations

import time

from sqlalchemy import update

from bot.app import Runtime
from bot.connections.model import AccountKind, OwedMessage
from bot.connections.outbox import Owed, owe
from bot.connections.service import NewConnection
from tests.fakes.slack import FakeSlack

NOTICE = "Bitbucket Cloud is connected"


def channel(tag: str, i: int) -> str:
    return f"C{i}{tag}"


def owner(tag: str, i: int) -> str:
    return f"U{i:03d}{tag}"


def start_many(
    runtime: Runtime, count: int, tag: str, *, one_owner: str | None = None
) -> list[int]:
    """`count` connections, each in its own channel, owned by one person each (or all by
    `one_owner`)."""
    return [
        runtime.service.start(
            NewConnection(
                request_ref=f"{tag}:{i}",
                team_id="T",
                channel_id=channel(tag, i),
                owner_id=one_owner or owner(tag, i),
                organization=f"{tag.lower()}-{i}",
                account_kind=AccountKind.SERVICE_ACCOUNT,
                bitbucket_username="svc",
            )
        ).id
        for i in range(count)
    ]


def finish_together(runtime: Runtime, ids: list[int]) -> float:
    """Owe each its Home tab and channel notice, due now; returns when (monotonic)."""
    clock = runtime.service._clock
    with runtime.courier.outbox._sessions.begin() as session:
        for connection_id in ids:
            owe(session, connection_id, [Owed.HOME, Owed.CONNECTED], clock.now())
        session.execute(update(OwedMessage).values(due_at=clock.now()))
    return time.monotonic()


def notice_waits(
    slack: FakeSlack, count: int, tag: str, owed_at: float, timeout: float = 30
) -> list[float]:
    """Seconds from `owed_at` to each channel's notice, sorted; raises if any is missing."""
    late: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(late) < count and time.monotonic() < deadline:
        for i in range(count):
            if i not in late and any(
                m.text.startswith(NOTICE) for m in slack.channel_messages(channel(tag, i))
            ):
                late[i] = time.monotonic() - owed_at
        time.sleep(0.01)
    assert len(late) == count, f"{count - len(late)} of {count} notices never came"
    return sorted(late.values())
