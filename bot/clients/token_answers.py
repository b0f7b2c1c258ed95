"""Telling a token Bitbucket refuses from an outage, by what Terraform answered when asked
to use it. HashiCorp publishes no answer for a refused token, so the rule is the issue's:
any 4xx but 404 and 429, or a 5xx whose errors name the VCS provider, is a refusal; a
timeout, a 429 or another 5xx is an outage (never broken); a 404 means the token (or the
endpoint itself) is not there, which the token list tells apart."""

from __future__ import annotations

import re
from enum import StrEnum

from bot.clients.tfe_errors import TFEError, TFEErrorKind

# Words in Terraform's errors that put the failure at the VCS provider, not at Terraform.
_PROVIDER = re.compile(r"bitbucket|vcs|provider|oauth|repositor", re.IGNORECASE)


class Answer(StrEnum):
    REFUSED = "refused"
    OUTAGE = "outage"
    NOT_THERE = "not_there"


def classify(error: TFEError) -> Answer:
    """What Terraform's error says about the token."""
    said = " ".join(error.details)
    if error.kind == TFEErrorKind.NOT_FOUND:
        return Answer.NOT_THERE
    if error.kind == TFEErrorKind.RATE_LIMITED or error.status is None:
        return Answer.OUTAGE
    if error.kind == TFEErrorKind.UNAUTHORIZED and not _PROVIDER.search(said):
        # The bot's own Terraform token was refused: every check would fail alike, and no
        # connection is to blame.
        return Answer.OUTAGE
    if error.status >= 500:
        return Answer.REFUSED if _PROVIDER.search(said) else Answer.OUTAGE
    return Answer.REFUSED if 400 <= error.status < 500 else Answer.OUTAGE


def in_words(error: TFEError) -> str:
    """A short, scrubbed reason for the audit trail."""
    said = "; ".join(error.details)[:300]
    return f"HTTP {error.status}: {said}" if said else f"HTTP {error.status}"
