"""Who is in a list of Slack user ids and user group ids (ALLOWED_USERS, APPROVERS)."""

from __future__ import annotations

import logging
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

# Group membership changes rarely; asking Slack at most this often is plenty.
GROUP_CACHE_SECONDS = 300.0


class Audience:
    """A set of users given as user ids and/or user group ids; groups are looked up lazily."""

    def __init__(self, client: WebClient, ids: tuple[str, ...]) -> None:
        self.client = client
        self.users = frozenset(i for i in ids if not i.startswith("S"))
        self.groups = tuple(i for i in ids if i.startswith("S"))
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    @property
    def everyone(self) -> bool:
        """An empty list means no restriction."""
        return not self.users and not self.groups

    def includes(self, user: str) -> bool:
        """True if the user is listed, or in one of the listed groups."""
        if self.everyone or user in self.users:
            return True
        return any(user in self._group(group) for group in self.groups)

    def members(self) -> list[str]:
        """Every user listed or in a listed group, each once, in a stable order."""
        found = set(self.users)
        for group in self.groups:
            found |= self._group(group)
        return sorted(found)

    def _group(self, group: str) -> frozenset[str]:
        with self._lock:
            cached = self._members.get(group)
        if cached and time.monotonic() - cached[0] < GROUP_CACHE_SECONDS:
            return cached[1]
        try:
            members = frozenset(self.client.usergroups_users_list(usergroup=group)["users"])
        except SlackApiError as error:
            log.warning(
                "could not read a user group",
                extra={"error": error.response.get("error"), "user": group},
            )
            return cached[1] if cached else frozenset()
        with self._lock:
            self._members[group] = (time.monotonic(), members)
        return members
