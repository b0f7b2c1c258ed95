"""Moves: planning one from the kept list of what used an old connection's token, the
approver's go, claiming items under a lease (so each is changed once across crashes and
replicas), and recording how each went. Each method is one transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.connections.leases import NOW, Leases
from bot.connections.model import Connection, ConnectionEvent, Dependent
from bot.connections.move_tables import ItemStatus, Move, MoveItem, MoveState, RepoCheck
from bot.connections.outbox import Owed, owe
from bot.connections.wakeups import due_now

# What a move relinks; registry modules are re-published instead, never PATCHed.
MOVED_KINDS = ("workspace", "policy set")


@dataclass(frozen=True)
class Tally:
    total: int
    done: int
    failed: int
    pending: int
    left_out: int = 0  # not attempted: the new token cannot see their repository


@dataclass(frozen=True)
class Sight:
    """What the dry run learned of the repositories: those the new token cannot see (each
    with why, said to people), and whether it could ask at all."""

    hidden: Mapping[str, str]
    checked: RepoCheck


class Moves:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        self.leases = Leases(sessions, clock, MoveItem)

    def plan(
        self,
        old: Connection,
        new: Connection,
        *,
        asked_by: str,
        only_token: str | None = None,
        approved: bool = False,
        sight: Sight | None = None,
    ) -> Move | None:
        """The dry run of moving what used `old`'s token to `new`'s: one open move per pair
        (asked again, the same one); None when nothing is kept to move. `only_token` keeps
        to what named that token; `approved` starts it at once (a re-authorization that
        changed the token id: nobody is asked again); `sight` leaves out the items whose
        repository the new token cannot see."""
        assert new.oauth_token_id is not None
        now = self._clock.now()
        with self._sessions.begin() as session:
            existing = session.scalars(
                select(Move).where(
                    Move.from_connection_id == old.id,
                    Move.to_connection_id == new.id,
                    Move.state.in_([MoveState.PLANNED, MoveState.RUNNING]),
                )
            ).first()
            if existing is not None:
                return existing
            kept = list(
                session.scalars(
                    select(Dependent)
                    .where(Dependent.connection_id == old.id)
                    .order_by(Dependent.kind.desc(), Dependent.name)
                )
            )
            if only_token is not None:
                kept = [d for d in kept if d.oauth_token_id == only_token]
            items = [d for d in kept if d.kind in MOVED_KINDS]
            modules = len(kept) - len(items)
            if not kept:
                return None
            move = Move(
                organization=new.organization,
                from_connection_id=old.id,
                to_connection_id=new.id,
                from_client_id=old.oauth_client_id,
                to_token_id=new.oauth_token_id,
                state=MoveState.PLANNED,
                asked_by=asked_by,
                modules_left=modules,
                total=len(items),
                created_at=now,
                repos_checked=sight.checked if sight else None,
            )
            session.add(move)
            session.flush()
            _add_items(session, move, items, sight.hidden if sight else {})
            self._note(session, new, asked_by, f"planned move #{move.id} from connection #{old.id}")
            if not approved:
                # The deciders' reminders are due work of the new connection: look soon.
                new_row = session.get(Connection, new.id)
                if new_row is not None:
                    new_row.next_due_at = now
                    due_now(session)
            if approved:
                move.state = MoveState.RUNNING
                move.approved_by = asked_by
                move.started_at = now
                for item in session.scalars(select(MoveItem).where(MoveItem.move_id == move.id)):
                    item.due_at = now
                due_now(session)
                if not self._pending(session, move.id):
                    self._finish(session, move, now)
            owe(session, new.id, [(Owed.MOVE, str(move.id))], now)
            return move

    def open_move(self, old_id: int, new_id: int) -> Move | None:
        """The move from `old_id` to `new_id` that is planned or running, if any."""
        with self._sessions.begin() as session:
            return session.scalars(
                select(Move).where(
                    Move.from_connection_id == old_id,
                    Move.to_connection_id == new_id,
                    Move.state.in_([MoveState.PLANNED, MoveState.RUNNING]),
                )
            ).first()

    def repositories_to_move(self, old_id: int, only_token: str | None = None) -> list[str]:
        """The distinct repositories of what a move from `old_id` would relink."""
        with self._sessions.begin() as session:
            query = select(Dependent.identifier).where(
                Dependent.connection_id == old_id,
                Dependent.kind.in_(MOVED_KINDS),
                Dependent.identifier.is_not(None),
            )
            if only_token is not None:
                query = query.where(Dependent.oauth_token_id == only_token)
            return sorted({str(i) for i in session.scalars(query.distinct())})

    def get(self, move_id: int) -> Move | None:
        with self._sessions.begin() as session:
            return session.get(Move, move_id)

    def planned_into(self, connection_id: int) -> list[Move]:
        """Moves to a connection that still wait for a decision."""
        with self._sessions.begin() as session:
            query = select(Move).where(
                Move.to_connection_id == connection_id, Move.state == MoveState.PLANNED
            )
            return list(session.scalars(query.order_by(Move.id)))

    def start(self, move_id: int, approver: str) -> tuple[Move | None, bool]:
        """The approver's go: the items are due now. Returns whether this call started it."""
        now = self._clock.now()
        with self._sessions.begin() as session:
            move = self._locked(session, move_id)
            if move is None or move.state != MoveState.PLANNED:
                return move, False
            move.state = MoveState.RUNNING
            move.approved_by = approver
            move.started_at = now
            session.execute(
                update(MoveItem)
                .where(MoveItem.move_id == move_id, MoveItem.status == ItemStatus.PENDING)
                .values(due_at=now)
            )
            due_now(session)
            self._note_on(session, move.to_connection_id, approver, f"approved move #{move_id}")
            owe(session, move.to_connection_id, [(Owed.MOVE, str(move_id))], now)
            if not self._pending(session, move_id):
                self._finish(session, move, now)
            return move, True

    def cancel(self, move_id: int, user: str, *, expired: bool = False) -> tuple[Move | None, bool]:
        """Stop a move: what was not yet changed is skipped (what was changed stays). An
        expiry stops only a move that still waits for its decision."""
        now = self._clock.now()
        with self._sessions.begin() as session:
            move = self._locked(session, move_id)
            open_states = (
                (MoveState.PLANNED,) if expired else (MoveState.PLANNED, MoveState.RUNNING)
            )
            if move is None or move.state not in open_states:
                return move, False
            move.state = MoveState.EXPIRED if expired else MoveState.CANCELLED
            move.cancelled_by = None if expired else user
            move.finished_at = now
            why = "nobody decided in time" if expired else "the move was cancelled"
            session.execute(
                update(MoveItem)
                .where(MoveItem.move_id == move_id, MoveItem.status == ItemStatus.PENDING)
                .values(status=ItemStatus.SKIPPED, due_at=None, reason=why)
            )
            verb = "expired" if expired else "cancelled"
            self._note_on(session, move.to_connection_id, user, f"{verb} move #{move_id}")
            owe(session, move.to_connection_id, [(Owed.MOVE, str(move_id))], now)
            return move, True

    def claim_items(self, worker: str, *, limit: int, lease_seconds: float) -> list[int]:
        """Lease pending items whose time has come (any running move's); returns their ids."""
        with self._sessions.begin() as session:
            return self.leases.claim(
                session,
                "items",
                lambda: (
                    select(MoveItem.id)
                    .where(MoveItem.status == ItemStatus.PENDING)
                    .where(MoveItem.due_at <= bindparam(NOW))
                    .order_by(MoveItem.due_at, MoveItem.id)
                    .limit(bindparam("limit"))
                ),
                worker,
                lease_seconds,
                {"limit": limit},
            )

    def items_due_in(self) -> float | None:
        """Seconds until the next pending item nobody holds is due (None: no move is
        running), read in the claim's order."""
        with self._sessions.begin() as session:
            return self.leases.due_in(
                session,
                "items",
                lambda: select(MoveItem.due_at).where(MoveItem.status == ItemStatus.PENDING),
            )

    def item(self, item_id: int) -> tuple[MoveItem, Move] | None:
        with self._sessions.begin() as session:
            found = session.get(MoveItem, item_id)
            if found is None:
                return None
            move = session.get(Move, found.move_id)
            assert move is not None
            return found, move

    def settle_item(
        self,
        item_id: int,
        worker: str,
        *,
        status: str,
        reason: str | None = None,
        retry_in: float | None = None,
    ) -> tuple[Move, bool] | None:
        """Record how one item went (or when to try it again), if this worker still holds it;
        returns its move and whether the move is now over (once, for whoever finished it)."""
        now = self._clock.now()
        with self._sessions.begin() as session:
            item = session.get(MoveItem, item_id)
            if item is None or item.lease_owner != worker or item.status != ItemStatus.PENDING:
                return None
            item.lease_owner = None
            item.lease_until = None
            item.attempts += 1
            item.reason = reason
            if retry_in is not None:
                item.due_at = now + timedelta(seconds=retry_in)
            else:
                item.status = status
                item.due_at = None
                item.done_at = now
            move = self._locked(session, item.move_id)
            assert move is not None
            session.flush()
            finished = move.state == MoveState.RUNNING and not self._pending(session, move.id)
            if finished:
                self._finish(session, move, now)
            return move, finished

    def release_leases(self, owners: Sequence[str]) -> int:
        return self.leases.release(owners)

    def lease_owners(self) -> list[str]:
        return self.leases.owners()

    def tally(self, move_id: int) -> Tally:
        with self._sessions.begin() as session:
            rows = dict(
                session.execute(
                    select(MoveItem.status, func.count())
                    .where(MoveItem.move_id == move_id)
                    .group_by(MoveItem.status)
                ).all()
            )
        total = sum(int(n) for n in rows.values())
        return Tally(
            total=total,
            done=int(rows.get(ItemStatus.DONE, 0)),
            failed=int(rows.get(ItemStatus.FAILED, 0)),
            pending=int(rows.get(ItemStatus.PENDING, 0)),
            left_out=int(rows.get(ItemStatus.LEFT_OUT, 0)),
        )

    def items(self, move_id: int, status: str | None = None, limit: int = 100) -> list[MoveItem]:
        with self._sessions.begin() as session:
            query = select(MoveItem).where(MoveItem.move_id == move_id)
            if status is not None:
                query = query.where(MoveItem.status == status)
            return list(
                session.scalars(query.order_by(MoveItem.kind.desc(), MoveItem.name).limit(limit))
            )

    def placed(self, move_id: int, channel: str, ts: str) -> None:
        """Where the move's one message is, so every later state updates it in place."""
        with self._sessions.begin() as session:
            session.execute(
                update(Move)
                .where(Move.id == move_id)
                .values(message_channel=channel, message_ts=ts)
            )

    def modules_of(self, move: Move) -> list[Dependent]:
        """The registry modules that used the old connection's token, as last counted."""
        with self._sessions.begin() as session:
            return list(
                session.scalars(
                    select(Dependent)
                    .where(
                        Dependent.connection_id == move.from_connection_id,
                        Dependent.kind == "registry module",
                    )
                    .order_by(Dependent.name)
                )
            )

    def claim_republish(self, move_id: int, user: str) -> bool:
        """The right to re-publish a move's modules: once, for the first who confirms."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(Move)
                .where(Move.id == move_id, Move.modules_republished_by.is_(None))
                .values(modules_republished_by=user)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def modules_republished(self, move_id: int, user: str, report: str) -> None:
        now = self._clock.now()
        with self._sessions.begin() as session:
            move = self._locked(session, move_id)
            assert move is not None
            move.modules_report = report
            self._note_on(
                session, move.to_connection_id, user, f"re-published modules after move #{move_id}"
            )
            owe(session, move.to_connection_id, [(Owed.MOVE, str(move_id))], now)

    def kept_tokens(self, connection_id: int) -> set[str]:
        """Every token that what used a connection named, as last counted."""
        with self._sessions.begin() as session:
            query = select(Dependent.oauth_token_id).where(
                Dependent.connection_id == connection_id, Dependent.oauth_token_id.is_not(None)
            )
            return {str(token) for token in session.scalars(query.distinct())}

    def old_client_deleted(self, move_id: int, user: str) -> None:
        now = self._clock.now()
        with self._sessions.begin() as session:
            move = self._locked(session, move_id)
            assert move is not None
            move.old_client_deleted_by = user
            move.old_client_claimed_by = None
            move.old_client_claimed_at = None
            self._note_on(
                session,
                move.from_connection_id,
                user,
                f"deleted OAuth client {move.from_client_id} after move #{move_id}",
            )
            owe(session, move.to_connection_id, [(Owed.MOVE, str(move_id))], now)

    # Internals.

    @staticmethod
    def _locked(session: Session, move_id: int) -> Move | None:
        query = select(Move).where(Move.id == move_id)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        return session.scalars(query).first()

    @staticmethod
    def _pending(session: Session, move_id: int) -> int:
        return int(
            session.scalar(
                select(func.count())
                .select_from(MoveItem)
                .where(MoveItem.move_id == move_id, MoveItem.status == ItemStatus.PENDING)
            )
            or 0
        )

    def _finish(self, session: Session, move: Move, now: object) -> None:
        move.state = MoveState.DONE
        move.finished_at = self._clock.now()
        self._note_on(session, move.to_connection_id, "bot", f"move #{move.id} finished")
        owe(session, move.to_connection_id, [(Owed.MOVE, str(move.id))], self._clock.now())

    def _note_on(self, session: Session, connection_id: int, actor: str, note: str) -> None:
        connection = session.get(Connection, connection_id)
        if connection is not None:
            self._note(session, connection, actor, note)

    def _note(self, session: Session, connection: Connection, actor: str, note: str) -> None:
        session.add(
            ConnectionEvent(
                connection_id=connection.id,
                at=self._clock.now(),
                actor=actor,
                from_state=connection.state,
                to_state=connection.state,
                note=note,
            )
        )


def _add_items(
    session: Session, move: Move, items: Sequence[Dependent], hidden: Mapping[str, str]
) -> None:
    for dependent in items:
        why = hidden.get(dependent.identifier or "")
        session.add(
            MoveItem(
                move_id=move.id,
                kind=dependent.kind,
                tfe_id=dependent.tfe_id,
                name=dependent.name,
                identifier=dependent.identifier,
                branch=dependent.branch,
                project_id=dependent.project_id,
                status=ItemStatus.LEFT_OUT if why else ItemStatus.PENDING,
                reason=why,
                attempts=0,
            )
        )
