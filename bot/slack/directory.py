"""Who is a full member of the Slack workspace, known without asking Slack at every door.

Starting a connection needs a full member (not a guest, a bot or a deactivated account), and
asking users.info at every command was a third of a command's CPU. The directory is loaded
from users.list at start and again every hour; Slack's user_change and team_join events bring
changes within seconds, and the replica that hears one writes it to member_changes, which
every replica reads within a second. Someone it does not know (before the first load, or
who joined while an event was lost) is asked about with users.info, then remembered.
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clients.http import RateLimiter
from bot.clock import Clock
from bot.connections.member_changes import MemberChanges
from bot.connections.member_lists import MemberLists

log = logging.getLogger(__name__)

RELOAD_EVERY = timedelta(hours=1)
# users.list pages: Slack advises no more than 200 people a page.
PAGE_SIZE = 200
MAX_PAGES = 10_000  # two million people; a cursor that never ends stops here
# users.list is Tier 2: about 20 calls a minute. The list paces itself to stay under it.
PAGES_PER_SECOND = 20 / 60
# Changes are read again for this long: longer than any commit lag or clock skew between
# replicas, so none is missed (one already applied is skipped by its id).
CHANGE_WINDOW = timedelta(minutes=5)


# Slack user ids: U or W and a few capitals and digits (11 today; room to grow).
USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")


def belongs_here(person: dict[str, Any], team_id: str | None, enterprise_id: str | None) -> bool:
    """Whether a person an event describes is of the workspace the bot is installed in (or,
    on Enterprise Grid, of its organization), with a user id of Slack's form."""
    user = person.get("id")
    if not isinstance(user, str) or not USER_ID.fullmatch(user):
        return False
    if team_id and person.get("team_id") == team_id:
        return True
    grid = person.get("enterprise_user")
    return bool(
        enterprise_id and isinstance(grid, dict) and grid.get("enterprise_id") == enterprise_id
    )


def is_member(person: dict[str, Any]) -> bool:
    """A full member: not deactivated, not a bot, not a multi- or single-channel guest."""
    return not any(
        person.get(flag) for flag in ("deleted", "is_bot", "is_restricted", "is_ultra_restricted")
    )


class MemberDirectory:
    """Full membership by user id; safe to share between threads."""

    def __init__(
        self,
        client: WebClient,
        changes: MemberChanges,
        clock: Clock,
        *,
        lists: MemberLists | None = None,
        reader: str = "",
    ) -> None:
        self.client = client
        self.changes = changes
        self.clock = clock
        self.lists = lists  # the list one replica read, for the others
        self.reader = reader  # this replica, as it claims a read
        self._members: dict[str, bool] = {}
        self._change_of: dict[str, int] = {}  # the last change applied, per person
        self._floor = 0  # changes up to this id are in the list loaded last
        self._loaded_at: datetime | None = None
        self._lock = threading.Lock()
        self._loading = threading.Lock()
        # A read that failed part way: what it had and where to go on (Slack's cursor).
        self._partial: dict[str, bool] = {}
        self._cursor = ""
        self._teams: list[str | None] = [None]  # the workspaces to read (Grid: several)
        self._team_index = 0
        self._awaiting = False  # another replica is reading the list
        self._read_from: tuple[datetime, int] = (clock.now(), 0)  # its start, and changes then
        self._pages = RateLimiter(PAGES_PER_SECOND)

    @property
    def loaded(self) -> bool:
        return self._loaded_at is not None

    def known(self, user: str) -> bool | None:
        """True or False when known; None when Slack would have to be asked."""
        return self._members.get(user)

    def full_member(self, user: str) -> bool | None:
        """Known, or asked with users.info and remembered on this replica (events keep it
        current from there); None when Slack would not say."""
        known = self._members.get(user)
        if known is not None:
            return known
        try:
            person = self.client.users_info(user=user)["user"]
        except SlackApiError as error:
            log.warning(
                "could not look up a user",
                extra={"user": user, "error": error.response.get("error")},
            )
            return None
        with self._lock:
            # An event heard while users.info was asked is newer, and stays.
            return self._members.setdefault(user, is_member(person))

    def heard(self, person: dict[str, Any]) -> None:
        """A user_change or team_join event: here at once, elsewhere within a second."""
        user = str(person.get("id") or "")
        if not user:
            return
        full = is_member(person)
        if self._members.get(user) == full:
            # user_change comes with every profile edit (a status, a title); only a change
            # in membership is worth a row every replica reads.
            return
        change = self.changes.record(user, full)
        with self._lock:
            self._apply(change, user, full)

    def catch_up(self, window: timedelta = CHANGE_WINDOW) -> None:
        """Apply the changes other replicas heard (and the list one of them read, once it
        is there)."""
        if self._awaiting and self.lists is not None and self._loading.acquire(blocking=False):
            try:
                self._awaiting = not self._load_stored(self.clock.now())
            finally:
                self._loading.release()
        rows = self.changes.since(window)
        with self._lock:
            for change, user, full in rows:
                self._apply(change, user, full)

    def _apply(self, change: int, user: str, full: bool) -> None:
        if change <= self._floor or change <= self._change_of.get(user, 0):
            return
        self._change_of[user] = change
        self._members[user] = full

    def load_if_due(self) -> None:
        """Have the member list of this interval: load the one another replica read (from
        the database), or read it from Slack when this replica is the one to (one per
        interval). A failure leaves the directory as it was (users.info answers for whom it
        does not know)."""
        if not self._loading.acquire(blocking=False):
            return
        try:
            now = self.clock.now()
            if self._loaded_at is not None and now - self._loaded_at < RELOAD_EVERY:
                return
            if self.lists is not None and self._load_stored(now):
                return
            if not self._cursor:  # a fresh read; a resumed one keeps when its first page came
                self._read_from = (now, self.changes.last_id())
            started, floor = self._read_from
            slot = int(started.timestamp() // RELOAD_EVERY.total_seconds())
            if self.lists is not None and not self.lists.claim(slot, self.reader, floor):
                self._awaiting = True  # another replica reads it: loaded once it is stored
                return
            try:
                listed = self._list()
            except Exception as error:  # Slack refused or is unreachable: try next time
                said = error.response.get("error") if isinstance(error, SlackApiError) else None
                log.warning(
                    "could not read Slack's member list; asking users.info meanwhile",
                    extra={"error": said or type(error).__name__},
                )
                return
            if self.lists is not None:
                self.lists.save(slot, listed)
            self._take(listed, floor, started)
            log.info("read Slack's member list: %d people", len(listed))
        finally:
            self._loading.release()

    def _load_stored(self, now: datetime) -> bool:
        """The list another replica read this interval, if there is one newer than ours."""
        assert self.lists is not None
        stored = self.lists.newest()
        if stored is None or now - stored.started_at >= RELOAD_EVERY:
            return False
        if self._loaded_at is not None and stored.started_at <= self._loaded_at:
            return False
        self._take(self.lists.entries(stored), stored.floor, stored.started_at)
        log.info("loaded the member list another replica read")
        return True

    def _take(self, listed: dict[str, bool], floor: int, started: datetime) -> None:
        with self._lock:
            self._members = listed
            self._floor = floor
            self._change_of = {}
        # What was heard while the list was read is newer than the list.
        self.catch_up(self.clock.now() - started + CHANGE_WINDOW)
        self._loaded_at = started

    def _list(self) -> dict[str, bool]:
        """Every page of users.list (of every workspace, on an Enterprise Grid org-wide
        install), paced under Tier 2. A failure keeps the pages read and the cursor, so the
        next try goes on from there instead of page one."""
        listed = self._partial
        while self._team_index < len(self._teams):
            team = self._teams[self._team_index]
            cursor = self._cursor
            for _ in range(MAX_PAGES):
                self._pages.acquire()
                try:
                    page = self.client.users_list(
                        limit=PAGE_SIZE, cursor=cursor or None, team_id=team
                    )
                except SlackApiError as error:
                    said = error.response.get("error")
                    if said == "missing_argument" and team is None:
                        # An Enterprise Grid org-wide install: users.list wants a team_id.
                        self._teams = self._workspaces()
                        break
                    if said == "invalid_cursor":  # too old: start over
                        self._partial, self._cursor, self._team_index = {}, "", 0
                    raise
                for person in page.get("members") or []:
                    if isinstance(person, dict) and person.get("id"):
                        listed[str(person["id"])] = is_member(person)
                cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
                self._partial, self._cursor = listed, cursor
                if not cursor:
                    self._team_index += 1
                    break
            else:  # a cursor that never ends: go on with the next workspace
                self._team_index += 1
                self._cursor = ""
        self._partial, self._cursor, self._team_index = {}, "", 0
        return listed

    def _workspaces(self) -> list[str | None]:
        """Every workspace an Enterprise Grid org-wide install is in (auth.teams.list)."""
        teams: list[str | None] = []
        cursor = ""
        for _ in range(MAX_PAGES):
            answer = self.client.auth_teams_list(limit=100, cursor=cursor or None)
            teams += [str(t["id"]) for t in answer.get("teams") or [] if t.get("id")]
            cursor = str((answer.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                break
        log.info("an org-wide install: reading the members of %d workspaces", len(teams))
        return teams
