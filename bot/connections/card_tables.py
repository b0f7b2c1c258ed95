"""Tables of the cards sent to people: where each one is, so a decision updates every card."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.connections.columns import Base, UTCDateTime


class ApprovalCard(Base):
    """Where an approver's card about a connection is, so a decision updates every card."""

    __tablename__ = "approval_cards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"), index=True)
    approver_id: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))

    __table_args__ = (UniqueConstraint("connection_id", "approver_id"),)


class RotationCard(Base):
    """An approver's card about one rotation request (`asked_at` tells requests apart)."""

    __tablename__ = "rotation_cards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"), index=True)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approver_id: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))

    __table_args__ = (UniqueConstraint("connection_id", "asked_at", "approver_id"),)


class MoveCard(Base):
    """Where one person's card about a move is: an approver's (or, with no approvers, the
    new connection's owner's) with Move workspaces and Cancel move, or the owner's own copy."""

    __tablename__ = "move_cards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    move_id: Mapped[int] = mapped_column(ForeignKey("moves.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))

    __table_args__ = (UniqueConstraint("move_id", "user_id"),)


class HomeTab(Base):
    """The hash Slack gave the last App Home the bot published for a user: the next publish
    sends it, so a publish that hung and lands late is refused instead of overwriting a
    newer one (Slack's `hash_conflict`)."""

    __tablename__ = "home_tabs"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    hash: Mapped[str] = mapped_column(String(128))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rendered_at: Mapped[datetime] = mapped_column(UTCDateTime)  # what it shows was read then
