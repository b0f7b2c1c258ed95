"""Tables of moves: what depends on an old OAuth client, relinked to a new connection's token
one item at a time (day two)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from bot.connections.columns import Base, UTCDateTime


class MoveState(StrEnum):
    PLANNED = "planned"  # the dry run is shown; waiting for an approver
    RUNNING = "running"  # approved: items are relinked in the bulk lane
    DONE = "done"  # every item done or failed; the report is out
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # nobody decided in EXPIRE_AFTER


# A move is over in these states: no decision is asked of anyone any more.
MOVE_OVER = frozenset({MoveState.DONE, MoveState.CANCELLED, MoveState.EXPIRED})


class ItemStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # the move was cancelled (or expired) before it came to this one
    LEFT_OUT = "left_out"  # the dry run found the new token cannot see its repository


class RepoCheck(StrEnum):
    """Whether a move's dry run asked Terraform which repositories the new token sees."""

    CHECKED = "checked"
    UNCHECKED = "unchecked"  # this Terraform lacks the check, or it failed: moved as before


class Move(Base):
    """Relinking what used one connection's token (`from_connection_id`, its client gone or
    retired) to another's (`to_connection_id`, `to_token_id`)."""

    __tablename__ = "moves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization: Mapped[str] = mapped_column(String(255))
    from_connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"), index=True)
    to_connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"), index=True)
    from_client_id: Mapped[str | None] = mapped_column(String(64))
    to_token_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    asked_by: Mapped[str] = mapped_column(String(32))
    approved_by: Mapped[str | None] = mapped_column(String(32))
    cancelled_by: Mapped[str | None] = mapped_column(String(32))
    # Registry modules are not relinked by a move: they are re-published, separately.
    modules_left: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    repos_checked: Mapped[str | None] = mapped_column(String(16))  # a RepoCheck
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The one message that shows the dry run, then the progress, then the report.
    message_channel: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    old_client_deleted_by: Mapped[str | None] = mapped_column(String(32))
    # Who is deleting the old client right now (so two presses send one DELETE); a claim
    # left by a process that died is taken over after a minute.
    old_client_claimed_by: Mapped[str | None] = mapped_column(String(32))
    old_client_claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Registry modules re-published from the new connection, after their own confirmation.
    modules_republished_by: Mapped[str | None] = mapped_column(String(32))
    modules_report: Mapped[str | None] = mapped_column(Text)


class MoveItem(Base):
    """One workspace or policy set to relink; changed once, whoever claims it."""

    __tablename__ = "move_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    move_id: Mapped[int] = mapped_column(ForeignKey("moves.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    tfe_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    identifier: Mapped[str | None] = mapped_column(String(255))
    branch: Mapped[str | None] = mapped_column(String(255))
    project_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("move_id", "kind", "tfe_id"),
        # What the move lane claims: pending items whose time has come.
        Index(
            "ix_move_items_due",
            "due_at",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )
