"""The member directory: full members known from Slack's list and events, not asked about
at every command; anyone it does not know is still asked, and a change reaches every replica."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from tests.fakes.slack import FakeSlack, SlackDriver
from tests.flow.steps import CHANNEL, OWNER, open_form
from tests.harness import RunningBot, eventually

GUEST = "U5GUEST"
JOINER = "U6JOINER"


def refused(fake_slack: FakeSlack, user: str) -> bool:
    return any(m.user == user and "full members" in m.text for m in fake_slack.ephemeral)


# Two replicas on one SQLite file in one process wait on each other's write lock; on a
# machine this suite keeps busy a replica's member jobs have waited that out for seconds.
REPLICA_WAIT = 30


def loaded(bot: RunningBot) -> RunningBot:
    eventually(lambda: bot.runtime.directory.loaded, timeout=REPLICA_WAIT)
    return bot


def asked_about(fake_slack: FakeSlack, user: str) -> int:
    return sum(1 for args in fake_slack.calls_to("users.info") if args.get("user") == user)


def test_people_on_slacks_list_are_not_asked_about_at_each_command(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    fake_slack.members = [OWNER, GUEST]
    fake_slack.user_flags[GUEST] = {"is_restricted": True}
    bot = loaded(make_bot())
    slack = SlackDriver(fake_slack, bot.url)
    open_form(slack)
    open_form(slack)
    slack.command("acme-infra", user=GUEST, channel=CHANNEL)
    eventually(lambda: refused(fake_slack, GUEST))
    assert asked_about(fake_slack, OWNER) == 0 and asked_about(fake_slack, GUEST) == 0
    assert not [v for v in fake_slack.views.values() if v.user == GUEST]


@pytest.mark.sqlite_only
def test_the_list_is_read_page_by_page(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    fake_slack.members = [f"U{i:05d}PAGE" for i in range(450)]
    bot = loaded(make_bot())
    assert len(fake_slack.calls_to("users.list")) == 3  # 200 + 200 + 50
    assert all(bot.runtime.directory.known(u) for u in fake_slack.members)


def test_a_member_made_a_guest_is_refused_as_soon_as_slack_says_so(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    fake_slack.members = [OWNER]
    bot = loaded(make_bot())
    slack = SlackDriver(fake_slack, bot.url)
    open_form(slack)
    fake_slack.user_flags[OWNER] = {"is_restricted": True}
    assert slack.event({"type": "user_change", "user": fake_slack.person(OWNER)}).status_code == 200
    eventually(lambda: bot.runtime.directory.known(OWNER) is False)
    slack.command("acme-infra", user=OWNER, channel=CHANNEL)
    eventually(lambda: refused(fake_slack, OWNER))
    assert asked_about(fake_slack, OWNER) == 0


def test_someone_who_joins_is_known_without_asking(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    bot = loaded(make_bot())
    slack = SlackDriver(fake_slack, bot.url)
    slack.event({"type": "team_join", "user": fake_slack.person(JOINER)})
    eventually(lambda: bot.runtime.directory.known(JOINER))
    open_form(slack, user=JOINER)
    assert asked_about(fake_slack, JOINER) == 0


def test_a_change_one_replica_hears_reaches_the_other(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    fake_slack.members = [OWNER]
    first, second = loaded(make_bot()), loaded(make_bot())
    fake_slack.user_flags[OWNER] = {"deleted": True}
    SlackDriver(fake_slack, first.url).event(
        {"type": "user_change", "user": fake_slack.person(OWNER)}
    )
    eventually(lambda: second.runtime.directory.known(OWNER) is False, timeout=REPLICA_WAIT)
    SlackDriver(fake_slack, second.url).command("acme-infra", user=OWNER, channel=CHANNEL)
    eventually(lambda: refused(fake_slack, OWNER))
    assert asked_about(fake_slack, OWNER) == 0


def test_a_replica_started_later_loads_the_list_another_read_with_the_news_since(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    """One replica reads Slack's list per interval; another loads it from the database (no
    second users.list) and applies what was heard since."""
    fake_slack.members = [OWNER, "U3MEMBER"]
    first = loaded(make_bot())
    reads = len(fake_slack.calls_to("users.list"))
    fake_slack.user_flags[OWNER] = {"is_restricted": True}
    SlackDriver(fake_slack, first.url).event(
        {"type": "user_change", "user": fake_slack.person(OWNER)}
    )
    eventually(lambda: first.runtime.directory.known(OWNER) is False, timeout=REPLICA_WAIT)
    second = loaded(make_bot())
    second.runtime.directory.catch_up()
    assert second.runtime.directory.known(OWNER) is False  # the news after the list
    assert second.runtime.directory.known("U3MEMBER") is True  # the list itself
    assert len(fake_slack.calls_to("users.list")) == reads  # read once, by the first


def test_an_org_wide_install_reads_each_workspace(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, log_lines: list[str]
) -> None:
    """Enterprise Grid: users.list wants a team_id, so each workspace the app is in
    (auth.teams.list) is read, instead of failing and asking users.info for everyone."""
    fake_slack.grid = {"T1EAST": [OWNER, "U3EAST"], "T2WEST": ["W4WEST"]}
    fake_slack.user_flags["W4WEST"] = {"is_restricted": True}
    bot = loaded(make_bot())
    directory = bot.runtime.directory
    assert directory.known(OWNER) is True and directory.known("U3EAST") is True
    assert directory.known("W4WEST") is False
    teams = {args.get("team_id") for args in fake_slack.calls_to("users.list")}
    assert {"T1EAST", "T2WEST"} <= teams
    assert not any("could not read Slack's member list" in line for line in log_lines)


def test_without_slacks_list_people_are_asked_about_as_before(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, log_lines: list[str]
) -> None:
    fake_slack.members = [OWNER]
    fake_slack.fail(
        "POST", r"/api/users\.list", status=200, body={"ok": False, "error": "missing_scope"}
    )
    bot = make_bot()
    eventually(lambda: any("could not read Slack's member list" in line for line in log_lines))
    assert not bot.runtime.directory.loaded
    slack = SlackDriver(fake_slack, bot.url)
    fake_slack.user_flags[GUEST] = {"is_ultra_restricted": True}
    open_form(slack)
    slack.command("acme-infra", user=GUEST, channel=CHANNEL)
    eventually(lambda: refused(fake_slack, GUEST))
    assert asked_about(fake_slack, OWNER) == 1 and asked_about(fake_slack, GUEST) == 1
    open_form(slack)
    assert asked_about(fake_slack, OWNER) == 1  # remembered


def test_a_malformed_member_event_changes_nothing(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    fake_slack.members = [OWNER]
    bot = loaded(make_bot())
    slack = SlackDriver(fake_slack, bot.url)
    for user in ("U1", None, {"name": "no id"}, {"id": 7, "deleted": True}, ["U1"]):
        # Refused at the door (400) or ignored (200); either way nothing changes.
        assert slack.event({"type": "user_change", "user": user}).status_code in (200, 400)
    open_form(slack)
    assert bot.runtime.directory.known(OWNER) is True
    assert asked_about(fake_slack, OWNER) == 0


def test_a_forged_member_event_is_refused_and_changes_nothing(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    fake_slack.members = [OWNER]
    bot = loaded(make_bot())
    slack = SlackDriver(fake_slack, bot.url)
    forged = {"type": "user_change", "user": {**fake_slack.person(OWNER), "deleted": True}}
    assert slack.event(forged, secret="not-the-signing-secret").status_code == 401
    time.sleep(0.5)  # past a catch-up tick
    assert bot.runtime.directory.known(OWNER) is True


def test_a_rate_limited_page_is_waited_for_and_the_list_completed(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    fake_slack.members = [f"U{i:05d}PAGE" for i in range(250)]
    fake_slack.fail("POST", r"/api/users\.list", status=429, headers={"Retry-After": "1"})
    bot = loaded(make_bot())
    assert all(bot.runtime.directory.known(u) for u in fake_slack.members)
    assert len(fake_slack.requests_to("POST", r"/api/users\.list")) == 3  # 429, then two pages


def test_a_profile_edit_is_not_a_membership_change(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    """user_change comes with every status and title edit: those write nothing."""
    fake_slack.members = [OWNER]
    bot = loaded(make_bot())
    slack = SlackDriver(fake_slack, bot.url)
    edited = {**fake_slack.person(OWNER), "profile": {"status_text": "In a meeting"}}
    for _ in range(3):
        assert slack.event({"type": "user_change", "user": edited}).status_code == 200
    slack.event({"type": "team_join", "user": fake_slack.person(JOINER)})
    eventually(lambda: bot.runtime.directory.known(JOINER))
    time.sleep(0.5)  # the edits' work is done by now too
    changes = bot.runtime.directory.changes.since(timedelta(hours=1))
    assert [user for _, user, _ in changes] == [JOINER]


def test_someone_slack_will_not_describe_is_told_to_try_again_and_nothing_is_remembered(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    bot = loaded(make_bot())
    slack = SlackDriver(fake_slack, bot.url)
    fake_slack.fail(
        "POST", r"/api/users\.info", status=200, body={"ok": False, "error": "user_not_found"}
    )
    slack.command("acme-infra", user=JOINER, channel=CHANNEL)
    eventually(
        lambda: any(m.user == JOINER and "Try again" in m.text for m in fake_slack.ephemeral)
    )
    assert bot.runtime.directory.known(JOINER) is None
    open_form(slack, user=JOINER)  # trying again works


@pytest.mark.sqlite_only
def test_a_failed_member_list_read_resumes_from_its_cursor_and_paces_itself(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    """users.list is Tier 2 (about 20 calls a minute): pages come ≥ 3 s apart, and a read
    that fails on page two goes on from page two, not page one."""
    fake_slack.members = [f"U{i:05d}PAGE" for i in range(450)]  # three pages of 200
    bot = make_bot()
    lists = r"/api/users\.list"
    eventually(lambda: fake_slack.requests_to("POST", lists))  # page one is read
    fake_slack.fail("POST", lists, status=200, body={"ok": False, "error": "internal_error"})
    eventually(lambda: len(fake_slack.requests_to("POST", lists)) >= 2, timeout=8)
    directory = bot.runtime.directory
    eventually(lambda: not directory._loading.locked())
    assert not directory.loaded
    directory.load_if_due()  # the next try (the job's next minute), here at once
    assert directory.loaded
    assert all(directory.known(u) for u in fake_slack.members)
    read = fake_slack.requests_to("POST", lists)
    cursors = [r.form().get("cursor") for r in read]
    # Page one; page two failed; page two again (not page one); page three.
    assert len(cursors) == 4 and not cursors[0], cursors
    assert cursors[1] == cursors[2] and cursors[1] and cursors[3] not in (None, cursors[1])
    gaps = [b.at - a.at for a, b in itertools.pairwise(read)]
    assert all(gap >= 2.5 for gap in gaps), gaps
