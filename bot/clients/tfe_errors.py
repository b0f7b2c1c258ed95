"""The one error the Terraform client raises, carrying what to tell a user."""

from __future__ import annotations

from enum import StrEnum


class TFEErrorKind(StrEnum):
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    INVALID = "invalid"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    UNEXPECTED = "unexpected"


class TFEError(Exception):
    """TFE refused or failed a call; `user_message` says what happened and what to do."""

    def __init__(
        self,
        kind: TFEErrorKind,
        user_message: str,
        *,
        status: int | None = None,
        details: tuple[str, ...] = (),
        fields: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"TFE {kind.value} (HTTP {status}): {user_message}")
        self.kind = kind
        self.user_message = user_message
        self.status = status
        self.details = details
        self.fields = fields or {}

    @property
    def outcome_unknown(self) -> bool:
        """True when a write may or may not have happened (timeouts, 5xx)."""
        return self.kind == TFEErrorKind.UNAVAILABLE
