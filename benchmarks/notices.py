"""Token → channel notice when connections finish together: how long the channel waits for
"connected" after the state change owes it, at 1, 10 and 40 connections at once, with three
approvers whose Home tabs are owed too (a Home tab never holds a notice up).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from tests.fakes.slack import FakeSlack
from tests.fakes.tfe import FakeTFE
from tests.finishing import finish_together, notice_waits, start_many
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
        ids = start_many(bot.runtime, size, "BENCH")
        time.sleep(1.0)  # what starting owed has gone
        owed_at = finish_together(bot.runtime, ids)
        waits = notice_waits(slack, size, "BENCH", owed_at, timeout=60)
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
