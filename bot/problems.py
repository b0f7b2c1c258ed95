"""The one error shape a step raises when it cannot go on: what to tell the user, and where.

Flows and the domain raise a Problem; the Slack layer catches it once, where it answers
the user (a modal field, an ephemeral note), and the sweep catches it where it retries.
"""

from __future__ import annotations


class Problem(Exception):
    """Why a step could not go on: a message for the user, and the form field it is about."""

    def __init__(self, message: str, *, field: str | None = None, retryable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.retryable = retryable
