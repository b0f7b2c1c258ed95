"""What Terraform's refusals mean for the person at the keyboard."""

from __future__ import annotations

from bot.clients.tfe import TFEError, TFEErrorKind
from bot.problems import Problem


def names_uuid(error: TFEError) -> bool:
    """A refusal that is about the uuid attribute (on its pointer, or in its words)."""
    if error.kind != TFEErrorKind.INVALID:
        return False
    return "uuid" in error.fields or any("uuid" in d.lower() for d in error.details)


def credentials_problem(error: TFEError, organization: str) -> Problem:
    if error.kind == TFEErrorKind.INVALID:
        for attribute, field in (("key", "key"), ("secret", "secret")):
            if attribute in error.fields:
                return Problem(
                    f"Terraform refused the {attribute}: {error.fields[attribute]}", field=field
                )
        return Problem(error.user_message)
    if error.kind == TFEErrorKind.NOT_FOUND:
        return Problem(
            f"Terraform could not find organization {organization}, or the bot's token may no "
            "longer manage its VCS settings. Ask an owner of the organization to check the "
            "token's access, then try again.",
        )
    return Problem(error.user_message, retryable=error.kind != TFEErrorKind.UNAUTHORIZED)
