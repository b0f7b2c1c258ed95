"""Token → channel notice when connections finish together: how long the channel waits for
"connected" after the state change owes it, at 1, 10 and 40 connections at once, with three
approvers whose Home tabs are owed too (a Home tab never holds a notice up).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import update

from bot.connections.model import AccountKind, OwedMessage
from bot.connections.outbox import Owed, owe
from bot.connections.service import NewConnection
from tests.fakes.slack import FakeSlack
from tests.fakes.tfe import FakeTFE
from tests.harness import RunningBot, bot_env

SIZES = (1, 10, 40)


def run(size: int, tmp: Path) -> tuple[float, float]:
    slack, tfe = FakeSlack().start(), FakeTFE().start()
    slack.method_rate["views.publish"] = (100 / 60, 100)  # Slack's tier for the app
    env = bot_env(
        slack_url=slack.url,
        tfe_url=tfe.url,
        database_url=f"sqlite:///{tmp / f'notices-{size}.db'}",
        APPROVERS="U7ONE U7TWO U7THREE",
        LOG_LEVEL="ERROR",
    )
    bot = RunningBot.from_env(env)
    try:
        service = bot.runtime.service
        ids = [
            service.start(
                NewConnection(
                    request_ref=f"bench:{i}",
                    team_id="T",
                    channel_id=f"C{i}BENCH",
                    owner_id=f"U{i:03d}OWNER",
                    organization=f"bench-{i}",
                    account_kind=AccountKind.SERVICE_ACCOUNT,
                    bitbucket_username="svc",
                )
            ).id
            for i in range(size)
        ]
        time.sleep(1.0)  # what starting owed has gone
        sessions = bot.runtime.courier.outbox._sessions
        with sessions.begin() as session:  # as the token watch writes them: tabs first
            for connection_id in ids:
                owe(session, connection_id, [Owed.HOME, Owed.CONNECTED], service._clock.now())
            session.execute(update(OwedMessage).values(due_at=service._clock.now()))
        owed_at = time.monotonic()
        late: dict[int, float] = {}
        deadline = owed_at + 60
        while len(late) < size and time.monotonic() < deadline:
            for i in range(size):
                if i not in late and any(
                    m.text.startswith("Bitbucket Cloud is connected")
                    for m in slack.channel_messages(f"C{i}BENCH")
                ):
                    late[i] = time.monotonic() - owed_at
            time.sleep(0.01)
        waits = sorted(late.values())
        return statistics.median(waits), waits[-1]
    finally:
        bot.stop()
        slack.stop()
        tfe.stop()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for size in SIZES:
            p50, worst = run(size, Path(tmp))
            print(
                f"token → channel notice, {size} finishing together (3 approvers' Home tabs "
                f"owed too): median {p50:.2f} s, max {worst:.2f} s"
            )


if __name__ == "__main__":
    main()
