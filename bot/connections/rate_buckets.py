"""Turns taken from token buckets kept in the database every replica shares: Slack's tiers
are the app's, not a replica's, and Slack counts them as a bucket does (a burst at once,
then a steady rate), so the replicas together spend one bucket.

Counted in calendar windows instead, two replicas could spend the end of one minute and
the start of the next in one burst (Slack refused 2 Home tabs of forty connections that way
on two replicas), and while a window was full nothing went until it turned, though Slack
had room again."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Double, Integer, String, Table, bindparam, case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from bot.connections.model import RateBucket

_BUCKETS: Table = RateBucket.__table__  # type: ignore[assignment]


class RateBuckets:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._upsert: Any = None

    def _take(self) -> Any:
        """One statement: refill the bucket for the time since it was counted (a clock
        behind the last count adds nothing), and take `want` if it holds that many; a new
        bucket starts full. Returns the tokens left when it took."""
        if self._upsert is None:
            now = bindparam("now", type_=Double)
            rate = bindparam("rate", type_=Double)
            burst = bindparam("burst", type_=Double)
            want = bindparam("want", type_=Integer)
            module: Any = postgresql if self._engine.dialect.name == "postgresql" else sqlite
            insert = module.insert(_BUCKETS).values(
                name=bindparam("name", type_=String), tokens=burst - want, at=now
            )
            filled = (
                _BUCKETS.c.tokens
                + case((now > _BUCKETS.c.at, now - _BUCKETS.c.at), else_=0.0) * rate
            )
            refilled = case((filled > burst, burst), else_=filled)
            self._upsert = insert.on_conflict_do_update(
                index_elements=[_BUCKETS.c.name],
                set_={
                    "tokens": refilled - want,
                    "at": case((now > _BUCKETS.c.at, now), else_=_BUCKETS.c.at),
                },
                where=refilled >= want,
            ).returning(_BUCKETS.c.tokens)
        return self._upsert

    def take(
        self, name: str, rate: float, burst: float, wants: tuple[int, ...], *, now: float
    ) -> tuple[int, float]:
        """Take the first of `wants` turns that the bucket `name` (`burst` at once, then
        `rate` a second) holds at Unix time `now`: (how many, 0.0), or (0, the seconds until
        one turn is back). Raises when the database cannot be reached."""
        values = {"name": name, "rate": rate, "burst": burst, "now": now}
        with self._engine.begin() as connection:
            for want in dict.fromkeys(wants):  # each once, in order
                if want > burst:
                    continue  # would not fit even a full bucket
                taken = connection.execute(self._take(), {**values, "want": want}).first()
                if taken is not None:
                    return want, 0.0
            row = connection.execute(
                select(_BUCKETS.c.tokens, _BUCKETS.c.at).where(_BUCKETS.c.name == name)
            ).first()
        tokens = burst if row is None else min(burst, row.tokens + max(0.0, now - row.at) * rate)
        return 0, max(0.0, 1 - tokens) / rate
