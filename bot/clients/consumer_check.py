"""Checking a Bitbucket consumer before TFE gets it: what blocks, and what only warns."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.clients.bitbucket import BitbucketClient, BitbucketError, BitbucketErrorKind, Grant
from bot.problems import Problem
from bot.redaction import REDACTOR

log = logging.getLogger(__name__)

# How many repositories a warning names before it says "and N more".
NAMED_REPOSITORIES = 5


@dataclass(frozen=True)
class ConsumerReport:
    """The consumer passed: who owns it, and what the owner should know (not blocking)."""

    owner: str | None
    warnings: tuple[str, ...] = ()


class ConsumerChecker:
    """Uses the client-credentials grant: the token acts as the consumer's owner."""

    def __init__(self, bitbucket: BitbucketClient) -> None:
        self.bitbucket = bitbucket

    def check(
        self, *, key: str, secret: str, username: str | None, workspace: str | None
    ) -> ConsumerReport:
        """A Problem blocks (raised, about a modal field); warnings in the report do not."""
        try:
            grant = self.bitbucket.client_credentials(key, secret)
        except BitbucketError as error:
            raise _problem(error) from None
        with REDACTOR.holding(grant.access_token):
            missing = grant.missing_permissions()
            if missing:
                raise Problem(
                    "The consumer lacks "
                    + ", ".join(missing)
                    + ". Edit the consumer in Bitbucket, tick "
                    + ("that permission" if len(missing) == 1 else "those permissions")
                    + ", Save, and press Connect again (the key and secret stay the same).",
                    field="key",
                )
            return self._warnings(grant, username=username, workspace=workspace)

    def _warnings(
        self, grant: Grant, *, username: str | None, workspace: str | None
    ) -> ConsumerReport:
        warnings: list[str] = []
        owner: str | None = None
        try:
            owner = self.bitbucket.current_user(grant).username or None
        except BitbucketError as error:
            log.warning("could not read the consumer's owner", extra={"status": error.status})
        if owner and username and owner.lower() != username.lower():
            warnings.append(
                f"The consumer belongs to Bitbucket user {owner}, not {username}. That works "
                f"if {username} is the account that authorizes in step 4; the checks below "
                f"were made as {owner}."
            )
        if workspace:
            try:
                access = self.bitbucket.repository_access(grant, workspace)
            except BitbucketError as error:
                log.warning("could not list repository access", extra={"status": error.status})
            else:
                who = owner or "The consumer's owner"
                if access.total == 0:
                    warnings.append(
                        f"{who} can see no repositories in workspace {workspace}. Check the "
                        "workspace ID, and that the account is a member with admin access."
                    )
                elif access.not_admin:
                    named = ", ".join(access.not_admin[:NAMED_REPOSITORIES])
                    more = len(access.not_admin) - NAMED_REPOSITORIES
                    warnings.append(
                        f"{who} is not admin on {len(access.not_admin)} of {access.total} "
                        f"repositories in {workspace}: {named}"
                        + (f" and {more} more" if more > 0 else "")
                        + ". Terraform needs admin to add webhooks; grant admin to use them."
                    )
        return ConsumerReport(owner=owner, warnings=tuple(warnings))


def _problem(error: BitbucketError) -> Problem:
    if error.kind == BitbucketErrorKind.BAD_CREDENTIALS:
        return Problem(error.user_message, field="secret")
    if error.kind in (BitbucketErrorKind.NO_CALLBACK_URL, BitbucketErrorKind.NOT_PRIVATE):
        return Problem(error.user_message, field="key")
    return Problem(error.user_message)
