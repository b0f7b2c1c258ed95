"""What the connect form suggests: the workspace an organization's last connection used.

Looked up for every /connect-bitbucket with an organization, so it is remembered briefly:
a suggestion a minute old (another replica may have started a newer one) is still a good
one, and what this process starts is noted at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

REMEMBER_SECONDS = 60.0
# Organizations are few; the bound only stops a flood of made-up names from growing it.
MAX_REMEMBERED = 1000


class Prefills:
    def __init__(self, last_workspace: Callable[[str], str | None]) -> None:
        self._look_up = last_workspace
        self._known: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def workspace(self, organization: str) -> str:
        """The organization's last Bitbucket workspace, or "" when it has none."""
        if not organization:
            return ""
        now = time.monotonic()
        with self._lock:
            known = self._known.get(organization)
        if known is not None and now - known[0] < REMEMBER_SECONDS:
            return known[1]
        found = self._look_up(organization) or ""
        self.note(organization, found, at=now)
        return found

    def note(self, organization: str, workspace: str, *, at: float | None = None) -> None:
        """Remember `workspace` as the organization's latest (a connection just started)."""
        with self._lock:
            if len(self._known) >= MAX_REMEMBERED and organization not in self._known:
                self._known.clear()
            self._known[organization] = (time.monotonic() if at is None else at, workspace)
