"""A bot killed (SIGKILL) in the middle of a move: the next one finishes it, each item is
changed to the same result however often it was sent, and the one message ends right."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.fakes.slack import FakeSlack
from tests.fakes.tfe import FakeTFE
from tests.flow.steps import CHANNEL
from tests.harness import BotProcess, eventually
from tests.seeds import seeded_move

ITEMS = 60
PATCH = r"/api/v2/workspaces/.*"


@pytest.mark.starts_early
def test_a_move_killed_half_way_is_finished_by_the_next_run(
    env: dict[str, str], fake_slack: FakeSlack, fake_tfe: FakeTFE, tmp_path: Path
) -> None:
    move_id, new_token, workspaces = seeded_move(env["DATABASE_URL"], fake_tfe, ITEMS)
    fake_tfe.latency = 0.1
    env = {**env, "TFE_RATE": "10"}  # about 8 items a second: a kill lands half way
    log = tmp_path / "bot.log"
    first = BotProcess(env, log).wait_ready()
    eventually(lambda: len(fake_tfe.requests_to("PATCH", PATCH)) >= ITEMS // 3, timeout=30)
    first.kill()
    sent_before = len(fake_tfe.requests_to("PATCH", PATCH))
    assert sent_before < ITEMS, "the move finished before the kill; the test proves nothing"

    second = BotProcess(env, log).wait_ready()
    try:
        report = eventually(
            lambda: [
                m
                for m in fake_slack.channel_messages(CHANNEL)
                if "Move of acme-infra done" in m.text
            ],
            timeout=60,
            message=lambda: log.read_text()[-3000:],
        )
        time.sleep(1)
    finally:
        assert second.stop() == 0
    assert f"{ITEMS} of {ITEMS} moved, 0 failed, 0 left" in report[0].text
    # One message for the move: posted once, updated in place.
    moving = [m for m in fake_slack.channel_messages(CHANNEL) if m.text.startswith("Mov")]
    assert [m.ts for m in moving] == [report[0].ts]
    bodies: dict[str, set[str]] = {}
    for request in fake_tfe.requests_to("PATCH", PATCH):
        bodies.setdefault(request.path, set()).add(json.dumps(request.json(), sort_keys=True))
    assert len(bodies) == ITEMS
    # Sent again only where the kill cut a call short, and then with the same body.
    assert all(len(sent) == 1 for sent in bodies.values())
    again = Counter(r.path for r in fake_tfe.requests_to("PATCH", PATCH))
    assert sum(n - 1 for n in again.values()) <= 16  # at most the claims in flight
    for n, item_id in enumerate(workspaces):
        repo = fake_tfe.linked_item(item_id)["attributes"]["vcs-repo"]  # type: ignore[index]
        assert repo == {
            "identifier": f"acme-team/repo-{n:02d}",
            "branch": "main",
            "oauth-token-id": new_token,
        }
    assert move_id == 1
