"""What a step returns when it cannot go on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """Why a step could not go on: a message for the user, and the form field it is about."""

    message: str
    field: str | None = None
    retryable: bool = True
