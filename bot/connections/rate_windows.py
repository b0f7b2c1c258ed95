"""Calls counted per window in the database every replica shares: Terraform's limit is per
token, not per replica (Slack's tiers are a bucket: rate_buckets.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from bot.connections.model import RateWindow

# Windows' rows older than this many windows are deleted now and then.
KEEP_WINDOWS = 600

_WINDOWS: Table = RateWindow.__table__  # type: ignore[assignment]


class RateWindows:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._cleaned: dict[str, int] = {}
        self._upsert: Any = None

    def _take(self) -> Any:
        """Add `want` to the window's count (a new row holds just `want`) unless that passes
        `limit`; returns the count when it was added. Every outside call runs it, so it is
        one statement, built once, on a plain connection: the ORM's session and its bulk
        update, with an insert and an update a call, cost more than the database did."""
        if self._upsert is None:
            module: Any = postgresql if self._engine.dialect.name == "postgresql" else sqlite
            insert = module.insert(_WINDOWS).values(
                name=bindparam("name"), second=bindparam("window"), used=bindparam("want")
            )
            self._upsert = insert.on_conflict_do_update(
                index_elements=[_WINDOWS.c.name, _WINDOWS.c.second],
                set_={"used": _WINDOWS.c.used + insert.excluded.used},
                where=_WINDOWS.c.used + insert.excluded.used <= bindparam("limit"),
            ).returning(_WINDOWS.c.used)
        return self._upsert

    def take(self, name: str, window: int, limit: int, wants: tuple[int, ...] = (1,)) -> int:
        """Reserve calls in window number `window` of `name`, at most `limit` there: the
        first of `wants` that still fits. Returns how many were had (0: the window is full).
        Raises when the database cannot be reached; the caller decides what then."""
        with self._engine.begin() as connection:
            for want in dict.fromkeys(wants):  # each once, in order
                if want > limit:
                    continue  # would not fit an empty window either
                taken = connection.execute(
                    self._take(), {"name": name, "window": window, "want": want, "limit": limit}
                ).first()
                if taken is not None:
                    self._clean(connection, name, window)
                    return want
            return 0

    def _clean(self, connection: Connection, name: str, window: int) -> None:
        if window - self._cleaned.get(name, 0) < KEEP_WINDOWS:
            return
        self._cleaned[name] = window
        connection.execute(
            delete(_WINDOWS).where(
                _WINDOWS.c.name == name, _WINDOWS.c.second < window - KEEP_WINDOWS
            )
        )
