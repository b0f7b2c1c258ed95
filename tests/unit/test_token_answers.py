"""Telling a token Bitbucket refuses from an outage, by Terraform's answer."""

from __future__ import annotations

import pytest

from bot.clients.tfe_errors import TFEError, TFEErrorKind
from bot.clients.token_answers import Answer, classify

PROVIDER = ("Bitbucket refused the OAuth token: the VCS provider returned 401",)


@pytest.mark.parametrize(
    ("kind", "status", "details", "answer"),
    [
        (TFEErrorKind.NOT_FOUND, 404, (), Answer.NOT_THERE),
        (TFEErrorKind.RATE_LIMITED, 429, (), Answer.OUTAGE),
        (TFEErrorKind.UNAVAILABLE, None, (), Answer.OUTAGE),  # a timeout
        (TFEErrorKind.UNAVAILABLE, 503, (), Answer.OUTAGE),
        (TFEErrorKind.UNAVAILABLE, 500, ("internal error",), Answer.OUTAGE),
        (TFEErrorKind.UNAVAILABLE, 500, PROVIDER, Answer.REFUSED),
        (TFEErrorKind.INVALID, 422, PROVIDER, Answer.REFUSED),
        (TFEErrorKind.INVALID, 400, (), Answer.REFUSED),
        (TFEErrorKind.FORBIDDEN, 403, (), Answer.REFUSED),
        (TFEErrorKind.UNEXPECTED, 409, (), Answer.REFUSED),
        (TFEErrorKind.UNAUTHORIZED, 401, PROVIDER, Answer.REFUSED),
        # The bot's own Terraform token refused: no connection is to blame.
        (TFEErrorKind.UNAUTHORIZED, 401, (), Answer.OUTAGE),
    ],
)
def test_each_answer_is_read_as_the_rule_says(
    kind: TFEErrorKind, status: int | None, details: tuple[str, ...], answer: Answer
) -> None:
    assert classify(TFEError(kind, "x", status=status, details=details)) == answer
