"""What depends on a connection: the workspaces, policy sets and registry modules whose VCS
link uses its OAuth token, as last counted (with each health check).

The list is kept, not only its counts: deleting an OAuth client in Terraform unlinks
everything that used it, and from then on this list is the only record of what to relink.
So a count never replaces a list with nothing because the client is gone; only a count made
while the client exists does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.connections.model import Connection, Dependent

# The kinds, as Terraform's lists name them and the columns that count them.
COUNTED = {
    "workspace": "uses_workspaces",
    "policy set": "uses_policy_sets",
    "registry module": "uses_modules",
}


class Linked(Protocol):
    """Something linked through a token, as the Terraform client reports it."""

    @property
    def kind(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def identifier(self) -> str | None: ...
    @property
    def branch(self) -> str | None: ...
    @property
    def oauth_token_id(self) -> str | None: ...
    @property
    def project_id(self) -> str | None: ...
    @property
    def provider(self) -> str | None: ...


class Dependents:
    """The dependents table; each method one transaction."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def record(self, connection_id: int, found: Mapping[str, Sequence[Linked] | None]) -> None:
        """Replace the list of each kind Terraform listed (a kind it would not list keeps
        what was known), and the counts with it."""
        counts: dict[str, int | None] = {}
        with self._sessions.begin() as session:
            for kind, items in found.items():
                if items is None or kind not in COUNTED:
                    continue
                session.execute(
                    delete(Dependent).where(
                        Dependent.connection_id == connection_id, Dependent.kind == kind
                    )
                )
                seen: set[str] = set()
                for item in items:
                    if item.id in seen:
                        continue
                    seen.add(item.id)
                    session.add(
                        Dependent(
                            connection_id=connection_id,
                            kind=kind,
                            tfe_id=item.id[:64],
                            name=item.name[:255],
                            identifier=(item.identifier or None) and item.identifier[:255],
                            branch=(item.branch or None) and item.branch[:255],
                            oauth_token_id=item.oauth_token_id,
                            project_id=item.project_id,
                            provider=item.provider,
                        )
                    )
                counts[COUNTED[kind]] = len(seen)
            session.execute(
                update(Connection)
                .where(Connection.id == connection_id)
                .values(dependents_checked_at=self._clock.now(), **counts)
            )

    def of(self, connection_id: int, limit: int = 100) -> tuple[list[Dependent], int]:
        """The first `limit` dependents (workspaces first, by name) and how many in all."""
        where = Dependent.connection_id == connection_id
        with self._sessions.begin() as session:
            rows = list(
                session.scalars(
                    select(Dependent)
                    .where(where)
                    .order_by(Dependent.kind.desc(), Dependent.name)
                    .limit(limit)
                )
            )
            total = int(
                session.scalar(select(func.count()).select_from(Dependent).where(where)) or 0
            )
        return rows, total
