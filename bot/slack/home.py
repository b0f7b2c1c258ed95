"""Status and App Home: what each person sees of the connections they care about."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clients.tfe import TFEClient, TFEError
from bot.clock import Clock
from bot.connections import schedule
from bot.connections.model import Connection
from bot.connections.queries import Queries
from bot.connections.service import ConnectionNotFound, ConnectionService
from bot.connections.states import State
from bot.slack.access import Access
from bot.slack.blocks import status as view

log = logging.getLogger(__name__)


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
    ) -> None:
        self.client = client
        self.queries = queries
        self.service = service
        self.access = access
        self.tfe = tfe
        self.policy = policy
        self.clock = clock

    def next_reminder(self, connection: Connection) -> datetime | None:
        if connection.state not in schedule.PEOPLE_MUST_ACT:
            return None
        return schedule.next_slot(connection.progressed_at, self.clock.now(), self.policy)

    def status(self, user: str, channel: str) -> tuple[str, list[dict[str, Any]]]:
        approver = self.access.is_approver(user)
        return view.status_blocks(
            user,
            mine=self.queries.open_owned_by(user),
            channel=self.queries.open_in_channel(channel) if channel else [],
            waiting=self.queries.awaiting_approval() if approver else [],
            finished=self.queries.finished(5),
            approver=approver,
            next_reminder=self.next_reminder,
        )

    def detail(self, which: str) -> tuple[str, list[dict[str, Any]]] | None:
        """`status 12` or `status acme`: one connection in full, or None if none matches."""
        try:
            connection: Connection | None = (
                self.service.get(int(which)) if which.isdigit() and len(which) < 10 else None
            )
        except ConnectionNotFound:
            connection = None
        if connection is None:
            connection = self.queries.latest_for_organization(which)
        if connection is None:
            return None
        return view.detail_blocks(
            connection,
            self.service.events(connection.id),
            live=self._live(connection),
            next_reminder=self.next_reminder(connection),
        )

    def _live(self, connection: Connection) -> str | None:
        """For a connected one: does TFE still hold the client and a token, right now?"""
        if connection.state != State.CONNECTED or not connection.oauth_client_id:
            return None
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

    def publish_home(self, user: str) -> None:
        """Publish (or replace) the user's App Home tab."""
        approver = self.access.is_approver(user)
        home = view.home_view(
            user,
            mine=self.queries.open_owned_by(user, limit=30),
            waiting=self.queries.awaiting_approval(limit=30) if approver else [],
            recent=self.queries.finished(10, connected_only=True),
            approver=approver,
            next_reminder=self.next_reminder,
        )
        try:
            self.client.views_publish(user_id=user, view=home)
        except SlackApiError as error:
            log.warning(
                "could not publish App Home",
                extra={"user": user, "error": error.response.get("error")},
            )
            raise
