"""The outbox: Slack messages a state change owes, kept until Slack has taken them.

The service writes the rows in the transaction that changes the state, so a process that
dies right after the commit leaves its debts on record; the committing process sends them
at once, and any replica's sweep sends what is still owed later (claimed per row under a
lease, SKIP LOCKED on PostgreSQL, with backoff after failures). Messages are rendered when
sent, from the connection as it is then.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.connections.leases import NOW, Leases
from bot.connections.model import OwedMessage

# How long the sweep leaves a fresh row to the process that committed it (which claims it
# at once): past this, a process that died before it could is stood in for, by its own
# restart or another replica, within a couple of seconds.
GRACE_SECONDS = 1.0
# Retry delays after failures: 2, 3, 4.5, 6.75 … seconds (so a half-minute outage is over
# within a few tries of its end), never more than 5 minutes.
BACKOFF_MAX_SECONDS = 300.0


class Owed(StrEnum):
    """What a state change owes Slack."""

    PROGRESS = "progress"  # the progress message, posted or updated in place
    CONNECTED = "connected"  # the channel's completion notice
    AUTHORIZE = "authorize"  # the owner's Authorize link
    ENDED = "ended"  # the owner hears that it expired or was cancelled (detail: clean-up)
    SEND_CARDS = "send_cards"  # a card to every approver who has none yet
    CARDS = "cards"  # every approver's card updated to the current state
    DECISION = "decision"  # the requester hears an approver's decision
    HOME = "home"  # the App Home of the owner and the approvers, republished (detail: when owed)
    BROKEN = "broken"  # the channel, owner and approvers hear it broke, with Reconnect
    HEALED = "healed"  # the channel hears it works again
    WRONG_ACCOUNT = "wrong_account"  # the owner: authorized as another account; how to fix
    REPAIR_STEPS = "repair_steps"  # whoever re-authorizes: the steps and the buttons
    REPAIRED = "repaired"  # the channel hears it was re-authorized in place
    REPAIR_STOPPED = "repair_stopped"  # whoever re-authorizes: the bot stopped (detail: why)
    ROTATION_CARDS = "rotation_cards"  # approvers' cards for a rotation: sent, or updated
    MOVE = "move"  # a move's one message: dry run, progress, report (detail: the move's id)
    ROTATION_DECISION = "rotation_decision"  # who asked hears the decision (approved: go on)
    SEES_NOTHING = "sees_nothing"  # the owner: the token works but sees no repository
    OWNER_CHANGED = "owner_changed"  # the old owner hears who owns it now (detail: old owner)
    # Bitbucket Data Center: the owner gets the application link's values; a colleague the
    # owner named gets them too (detail: who); the owner gets the token's SSH key to add.
    LINK_STEPS = "link_steps"
    LINK_HANDOFF = "link_handoff"
    SSH_KEY = "ssh_key"


# Owed messages that post cards the bot looks for in DMs before posting again.
CARD_KINDS = frozenset({Owed.SEND_CARDS, Owed.ROTATION_CARDS, Owed.MOVE})


@dataclass(frozen=True)
class Debt:
    """One owed message as the sender sees it."""

    id: int
    connection_id: int
    kind: Owed
    detail: str | None
    attempts: int


def owe(
    session: Session,
    connection_id: int,
    kinds: Sequence[Owed | tuple[Owed, str]],
    now: datetime,
) -> None:
    """Add owed messages inside the caller's transaction."""
    for item in kinds:
        kind, detail = item if isinstance(item, tuple) else (item, None)
        if kind == Owed.HOME and detail is None:
            # When it was owed: a Home tab built since then already shows it.
            detail = now.isoformat()
        session.add(
            OwedMessage(
                connection_id=connection_id,
                kind=kind.value,
                detail=detail,
                created_at=now,
                due_at=now + timedelta(seconds=GRACE_SECONDS),
                attempts=0,
            )
        )


def _of_kinds(
    query: Select[Any], kinds: Collection[Owed], besides: Collection[Owed]
) -> Select[Any]:
    """Owed messages of `kinds` only (when given), never of the kinds `besides`."""
    if kinds:
        query = query.where(OwedMessage.kind.in_([k.value for k in kinds]))
    if besides:
        query = query.where(OwedMessage.kind.not_in([k.value for k in besides]))
    return query


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failures."""
    return min(BACKOFF_MAX_SECONDS, 2.0 * 1.5 ** max(0, attempts - 1))


class Outbox:
    """Claims and settles owed messages; each method one transaction."""

    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock, *, in_flight: float = 0.0
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.leases = Leases(sessions, clock, OwedMessage)
        # How long a Slack call cut off by a crash may still land (the client's timeout): a
        # card whose sender died is sent again only after that, so the lookup in the DM
        # finds the one Slack took instead of posting a second.
        self.in_flight = in_flight

    def claim_for(
        self,
        connection_id: int,
        worker: str,
        *,
        lease_seconds: float,
        besides: Collection[Owed] = (),
    ) -> list[Debt]:
        """Everything owed for one connection that nobody holds, due or not (sent right
        after the commit that owed it), but the kinds `besides`."""
        return self._claim(
            worker, lease_seconds, connection_id=connection_id, limit=100, besides=besides
        )

    def claim_due(
        self,
        worker: str,
        *,
        limit: int,
        lease_seconds: float,
        kinds: Collection[Owed] = (),
        besides: Collection[Owed] = (),
    ) -> list[Debt]:
        """Up to `limit` owed messages whose time has come, for the sweep: of `kinds` only
        (when given), never of the kinds `besides`."""
        return self._claim(
            worker, lease_seconds, connection_id=None, limit=limit, kinds=kinds, besides=besides
        )

    def _claim(
        self,
        worker: str,
        lease_seconds: float,
        *,
        connection_id: int | None,
        limit: int,
        kinds: Collection[Owed] = (),
        besides: Collection[Owed] = (),
    ) -> list[Debt]:
        now = self._clock.now()
        sweep = connection_id is None

        def candidates() -> Select[Any]:
            query = _of_kinds(
                select(OwedMessage.id).order_by(OwedMessage.id).limit(bindparam("limit")),
                kinds,
                besides,
            )
            if self.in_flight:
                query = query.where(
                    or_(
                        ~self._card_kinds(),
                        OwedMessage.lease_owner.is_(None),
                        OwedMessage.lease_until < bindparam("dead_since"),
                    )
                )
            if sweep:
                return query.where(OwedMessage.due_at <= bindparam(NOW))
            return query.where(OwedMessage.connection_id == bindparam("connection_id"))

        params: dict[str, Any] = {"limit": limit}
        if self.in_flight:
            params["dead_since"] = now - timedelta(seconds=self.in_flight)
        if not sweep:
            params["connection_id"] = connection_id
        key = (tuple(kinds), tuple(besides), sweep, bool(self.in_flight))
        with self._sessions.begin() as session:
            claimed = self.leases.claim(session, key, candidates, worker, lease_seconds, params)
            if not claimed:
                return []
            rows = session.scalars(
                select(OwedMessage).where(OwedMessage.id.in_(claimed)).order_by(OwedMessage.id)
            )
            return [Debt(r.id, r.connection_id, Owed(r.kind), r.detail, r.attempts) for r in rows]

    def due_in(
        self, *, kinds: Collection[Owed] = (), besides: Collection[Owed] = ()
    ) -> float | None:
        """Seconds until the next owed message nobody holds is due (of `kinds` only, when
        given; never of the kinds `besides`); None when nothing is owed."""
        with self._sessions.begin() as session:
            return self.leases.due_in(
                session,
                (tuple(kinds), tuple(besides)),
                lambda: _of_kinds(select(OwedMessage.due_at), kinds, besides),
            )

    def paid(self, ids: Sequence[int]) -> None:
        """Slack took these: forget them."""
        if ids:
            with self._sessions.begin() as session:
                session.execute(delete(OwedMessage).where(OwedMessage.id.in_(list(ids))))

    def failed(
        self,
        ids: Sequence[int],
        error: str,
        *,
        counted: int | None,
        not_before: float | None = None,
    ) -> int:
        """Give these back for a later try; `counted` is the one whose attempt failed (its
        attempts go up), and none is tried again sooner than `not_before` seconds (Slack's
        Retry-After). Returns that row's attempts so far."""
        now = self._clock.now()
        free = {"lease_owner": None, "lease_until": None}
        # Each row is written once: PostgreSQL checks a row's foreign key again when this
        # transaction writes it a second time, taking a share lock on its connection, and a
        # store transaction holding that connection while it owes a message deadlocked
        # with it (the failure was then never recorded, and the claim never given back).
        with self._sessions.begin() as session:
            attempts = 0
            if counted is not None:
                found = session.scalar(
                    select(OwedMessage.attempts).where(OwedMessage.id == counted)
                )
                attempts = 0 if found is None else found + 1
            retry_at = now + timedelta(seconds=max(backoff(attempts), not_before or 0.0))
            if counted is not None:
                session.execute(
                    update(OwedMessage)
                    .where(OwedMessage.id == counted)
                    .values(attempts=attempts, last_error=error[:255], due_at=retry_at, **free)
                )
            others = [i for i in ids if i != counted]
            if others:
                session.execute(
                    update(OwedMessage)
                    .where(OwedMessage.id.in_(others))
                    .values(due_at=retry_at, **free)
                )
        return attempts

    def owed(self, connection_id: int | None = None) -> list[OwedMessage]:
        """What is still owed (for one connection), oldest first."""
        with self._sessions.begin() as session:
            query = select(OwedMessage).order_by(OwedMessage.id)
            if connection_id is not None:
                query = query.where(OwedMessage.connection_id == connection_id)
            return list(session.scalars(query))

    def release_leases(self, owners: list[str]) -> int:
        """Free what workers known to be gone held; a card they were sending waits out the
        call that may still land (see `in_flight`), from now."""
        if owners and self.in_flight:
            now = self._clock.now()
            with self._sessions.begin() as session:
                session.execute(
                    update(OwedMessage)
                    .where(
                        OwedMessage.lease_owner.in_(list(owners)),
                        OwedMessage.kind.in_([k.value for k in CARD_KINDS]),
                        OwedMessage.lease_until > now,
                    )
                    .values(lease_until=now)
                )
        return self.leases.release(owners, unless=self._card_kinds() if self.in_flight else None)

    @staticmethod
    def _card_kinds() -> ColumnElement[bool]:
        return OwedMessage.kind.in_([k.value for k in CARD_KINDS])

    def lease_owners(self) -> list[str]:
        return self.leases.owners()
