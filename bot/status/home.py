"""Status and App Home: what each person sees of the connections they care about."""

from __future__ import annotations

import logging
import threading
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clients.tfe import TFEClient, TFEError
from bot.clock import Clock
from bot.connections import schedule
from bot.connections.dependents import Dependents
from bot.connections.model import Connection
from bot.connections.outbox import Owed
from bot.connections.queries import Queries
from bot.connections.service import ConnectionNotFound, ConnectionService
from bot.connections.states import State
from bot.slack.access import Access
from bot.slack.courier import Send
from bot.status import blocks as view
from bot.status.store import HomeTabs

log = logging.getLogger(__name__)

# Replicas' clocks differ a little: a tab counts as built after a debt only this much later.
CLOCKS_DIFFER = timedelta(seconds=1)

# How often one person's `status N` may ask Terraform live: each look is a Terraform call on
# the bot's token, and a loop of status commands must not spend the organizations' rate.
LIVE_LOOKS = 3
# "Recently finished" looks this far back (bounded, so status never reads all history).
RECENTLY = timedelta(days=90)
# What uses a connection, listed in `status N` (the rest counted).
DEPENDENTS_SHOWN = 30
LIVE_WINDOW = timedelta(minutes=1)


class PerPerson:
    """At most `limit` goes per person in any `window`, on this replica."""

    def __init__(self, limit: int, window: timedelta, clock: Clock) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._goes: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def allow(self, person: str) -> bool:
        now = self.clock.now()
        with self._lock:
            goes = self._goes.setdefault(person, deque())
            while goes and now - goes[0] >= self.window:
                goes.popleft()
            if len(goes) >= self.limit:
                return False
            goes.append(now)
            if len(self._goes) > 10_000:  # people who looked long ago are forgotten
                self._goes = {
                    p: g for p, g in self._goes.items() if g and now - g[-1] < self.window
                }
            return True


class Overview:
    """Builds status messages and Home views from the database (and, for one connected
    connection, a live look at TFE)."""

    def __init__(
        self,
        client: WebClient,
        queries: Queries,
        service: ConnectionService,
        access: Access,
        tfe: TFEClient,
        policy: schedule.StallPolicy,
        clock: Clock,
        dependents: Dependents,
        tabs: HomeTabs,
    ) -> None:
        self.tabs = tabs  # the hash of each person's last published Home tab
        self.client = client
        self.queries = queries
        self.service = service
        self.access = access
        self.tfe = tfe
        self.policy = policy
        self.clock = clock
        self._live_looks = PerPerson(LIVE_LOOKS, LIVE_WINDOW, clock)
        self.dependents = dependents

    def _recently(self) -> datetime:
        return self.clock.now() - RECENTLY

    def next_reminder(self, connection: Connection) -> datetime | None:
        if connection.state not in schedule.PEOPLE_MUST_ACT:
            return None
        return schedule.next_slot(connection.progressed_at, self.clock.now(), self.policy)

    def status(self, user: str, channel: str) -> tuple[str, list[dict[str, Any]]]:
        """`status`: the caller's own connections; the channel's, the finished ones and what
        waits for them only for those who may see other people's connections."""
        approver = self.access.is_approver(user)
        others = self.access.may_see_others(user)
        return view.status_blocks(
            user,
            mine=self.queries.open_owned_by(user),
            channel=(
                self.queries.open_in_channel(channel, besides=user, approver=approver)
                if channel and others
                else []
            ),
            waiting=self.queries.awaiting_approval(besides=user) if approver else [],
            finished=self.queries.finished(5, since=self._recently()) if others else [],
            approver=approver,
            next_reminder=self.next_reminder,
        )

    def detail(self, which: str, viewer: str) -> tuple[str, list[dict[str, Any]]] | None:
        """`status 12` or `status acme`: one connection in full, or None if none matches or
        `viewer` may not see it (the two look the same from outside)."""
        try:
            connection: Connection | None = (
                self.service.get(int(which)) if which.isdigit() and len(which) < 10 else None
            )
        except ConnectionNotFound:
            connection = None
        if connection is None:
            connection = self.queries.latest_for_organization(which)
        if connection is None or not self.access.may_see(viewer, connection.owner_id):
            return None
        return view.detail_blocks(
            connection,
            self.service.events(connection.id),
            live=self._live(connection, viewer),
            next_reminder=self.next_reminder(connection),
            dependents=self.dependents.of(connection.id, limit=DEPENDENTS_SHOWN),
        )

    def _live(self, connection: Connection, viewer: str) -> str | None:
        """For a connected one: does TFE still hold the client and a token, right now? At
        most LIVE_LOOKS live looks per person a minute; past that, the last health check."""
        if connection.state != State.CONNECTED or not connection.oauth_client_id:
            return None
        if not self._live_looks.allow(viewer):
            checked = connection.health_checked_at
            return f"Health watch: {view.token_sight(connection)}." if checked else None
        try:
            tokens = self.tfe.list_oauth_tokens(connection.oauth_client_id)
        except TFEError as error:
            return f":x: Checked just now: {error.user_message}"
        if not tokens:
            return (
                ":x: Checked just now: Terraform holds the OAuth client but no token for it; "
                "someone must authorize again."
            )
        return (
            ":white_check_mark: Checked just now: Terraform holds the OAuth client and its token."
        )

    def sends(self) -> dict[Owed, Send]:
        """What status owes, for the courier: the App Home of the owner and the approvers."""
        return {Owed.HOME: self._publish_for}

    def _publish_for(self, connection: Connection, owed_at: str) -> None:
        """The Home tabs of the owner and the approvers, but those built since this was owed
        (forty connections finishing at once owe forty tabs of the same approvers: each is
        published once or twice, not forty times)."""
        try:
            since: datetime | None = datetime.fromisoformat(owed_at) + CLOCKS_DIFFER
        except ValueError:
            since = None
        for user in {connection.owner_id, *self.access.approvers.members()}:
            if since is None or not self.tabs.rendered_since(user, since):
                self.publish_home(user)

    def publish_home(self, user: str) -> None:
        """Publish (or replace) the user's App Home tab; other people's connections only for
        those who may see them.

        Sent with the hash of the last one published, so a publish that hung (a replica
        killed mid-call) and lands late is refused by Slack instead of overwriting a newer
        tab. When Slack says another landed since, the tab is built afresh and sent without
        the hash: built now, it is the newest there is."""
        try:
            self._publish(user, self.tabs.last_hash(user))
        except SlackApiError as error:
            if error.response.get("error") != "hash_conflict":
                raise
            self._publish(user, None)

    def _publish(self, user: str, last_hash: str | None) -> None:
        rendered_at = self.clock.now()
        approver = self.access.is_approver(user)
        others = self.access.may_see_others(user)
        home = view.home_view(
            user,
            mine=self.queries.open_owned_by(user, limit=30),
            waiting=self.queries.awaiting_approval(limit=30, besides=user) if approver else [],
            recent=(
                self.queries.finished(10, since=self._recently(), connected_only=True)
                if others
                else []
            ),
            approver=approver,
            next_reminder=self.next_reminder,
        )
        try:
            if last_hash:
                answer = self.client.views_publish(user_id=user, view=home, hash=last_hash)
            else:
                answer = self.client.views_publish(user_id=user, view=home)
        except SlackApiError as error:
            if error.response.get("error") == "hash_conflict":
                raise  # publish_home builds it again
            log.warning(
                "could not publish App Home",
                extra={"user": user, "error": error.response.get("error")},
            )
            raise
        view_hash = (answer.get("view") or {}).get("hash")
        if isinstance(view_hash, str) and view_hash:
            self.tabs.published(user, view_hash, rendered_at)
