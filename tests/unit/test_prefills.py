"""The form's suggested workspace: looked up once, remembered briefly, noted on start."""

from __future__ import annotations

import pytest

from bot.connect import prefills
from bot.connect.prefills import Prefills


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(prefills.time, "monotonic", clock)
    return clock


def test_looked_up_once_then_remembered_until_stale(clock: Clock) -> None:
    asked: list[str] = []
    database = {"acme": "acme-team"}

    def look_up(organization: str) -> str | None:
        asked.append(organization)
        return database.get(organization)

    found = Prefills(look_up)
    assert found.workspace("acme") == "acme-team"
    database["acme"] = "newer-team"  # another replica started one
    clock.now += prefills.REMEMBER_SECONDS - 1
    assert found.workspace("acme") == "acme-team"
    assert asked == ["acme"]
    clock.now += 2
    assert found.workspace("acme") == "newer-team"
    assert found.workspace("nobody") == "" and found.workspace("") == ""
    assert asked == ["acme", "acme", "nobody"]  # "" is never looked up


def test_a_start_here_is_suggested_at_once(clock: Clock) -> None:
    found = Prefills(lambda _org: "old-team")
    assert found.workspace("acme") == "old-team"
    found.note("acme", "new-team")
    assert found.workspace("acme") == "new-team"


def test_made_up_names_do_not_grow_it_without_bound(clock: Clock) -> None:
    found = Prefills(lambda _org: None)
    for i in range(prefills.MAX_REMEMBERED * 3):
        found.workspace(f"org-{i}")
    assert len(found._known) <= prefills.MAX_REMEMBERED
