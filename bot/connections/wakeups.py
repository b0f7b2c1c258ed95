"""Saying, inside a transaction, that it makes work due now, so this process's lanes look
at once after the commit instead of at their next idle look (which other replicas still
rely on)."""

from __future__ import annotations

from sqlalchemy.orm import Session

_DUE_NOW = "due_now"


def due_now(session: Session) -> None:
    """Work becomes due with this transaction (a connection, a move's items)."""
    session.info[_DUE_NOW] = True


def take_due_now(session: Session) -> bool:
    """After a commit: whether it made work due (and forget it for the next transaction)."""
    return bool(session.info.pop(_DUE_NOW, False))
