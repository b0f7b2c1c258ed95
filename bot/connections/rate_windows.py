"""Calls counted per window in the database every replica shares: a service's limit is per
app (Slack) or per token (Terraform), not per replica."""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from bot.connections.model import RateWindow

# Windows' rows older than this many windows are deleted now and then.
KEEP_WINDOWS = 600


class RateWindows:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._cleaned: dict[str, int] = {}

    def take(self, name: str, window: int, limit: int, wants: tuple[int, ...] = (1,)) -> int:
        """Reserve calls in window number `window` of `name`, at most `limit` there: the
        first of `wants` that still fits. Returns how many were had (0: the window is full).
        Raises when the database cannot be reached; the caller decides what then."""
        with self._sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            module = postgresql if dialect == "postgresql" else sqlite
            session.execute(
                module.insert(RateWindow)
                .values(name=name, second=window, used=0)
                .on_conflict_do_nothing()
            )
            for want in wants:
                taken = session.execute(
                    update(RateWindow)
                    .where(RateWindow.name == name, RateWindow.second == window)
                    .where(RateWindow.used + want <= limit)
                    .values(used=RateWindow.used + want)
                    .returning(RateWindow.used)
                ).first()
                if taken is not None:
                    self._clean(session, name, window)
                    return want
            return 0

    def _clean(self, session: Session, name: str, window: int) -> None:
        if window - self._cleaned.get(name, 0) < KEEP_WINDOWS:
            return
        self._cleaned[name] = window
        session.execute(
            delete(RateWindow).where(
                RateWindow.name == name, RateWindow.second < window - KEEP_WINDOWS
            )
        )
