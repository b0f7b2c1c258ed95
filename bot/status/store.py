"""The hash of each person's last published App Home, shared by every replica."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.connections.card_tables import HomeTab


class HomeTabs:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def last_hash(self, user: str) -> str | None:
        with self._sessions.begin() as session:
            tab = session.get(HomeTab, user)
            return tab.hash if tab is not None else None

    def rendered_since(self, user: str, moment: datetime) -> bool:
        """Whether the user's Home tab Slack holds was built from what was read at or after
        `moment`."""
        with self._sessions.begin() as session:
            tab = session.get(HomeTab, user)
            return tab is not None and tab.rendered_at >= moment

    def published(self, user: str, view_hash: str, rendered_at: datetime) -> None:
        """Slack holds this user's Home tab under `view_hash` now, built from what was read
        at `rendered_at`."""
        now = self._clock.now()
        with self._sessions.begin() as session:
            tab = session.get(HomeTab, user, with_for_update=True)
            if tab is None:
                session.add(
                    HomeTab(user_id=user, hash=view_hash, published_at=now, rendered_at=rendered_at)
                )
            else:
                tab.hash, tab.published_at, tab.rendered_at = view_hash, now, rendered_at
