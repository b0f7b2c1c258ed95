"""Rotating the consumer's key and secret on an existing OAuth client: checked with
Bitbucket first, then PATCHed into Terraform, then the same client is re-authorized."""

from __future__ import annotations

import logging

from bot.clients.consumer_check import ConsumerChecker, ConsumerReport
from bot.clients.tfe import TFEClient, TFEError, TFEErrorKind
from bot.connections.model import Connection
from bot.connections.upkeep import CannotRepair
from bot.data_center.flow import DataCenterFlow
from bot.problems import Problem
from bot.redaction import REDACTOR
from bot.rotate.store import Rotations

log = logging.getLogger(__name__)


class RotateFlow:
    def __init__(
        self,
        rotations: Rotations,
        tfe: TFEClient,
        checker: ConsumerChecker,
        data_center: DataCenterFlow,
    ) -> None:
        self.rotations = rotations
        self.tfe = tfe
        self.checker = checker
        self.data_center = data_center  # makes and sends a Data Center client's new keys

    def _claim(
        self, connection_id: int, *, actor: str, needs_approval: bool, data_center: bool
    ) -> Connection:
        """The store's claim, given up again when the submission is for the other kind of
        Bitbucket (a forged form: a Cloud key and secret would break a Data Center client)."""
        connection = self.rotations.claim_rotation(
            connection_id, by=actor, needs_approval=needs_approval
        )
        if connection.data_center != data_center:
            self.rotations.release_rotation(connection_id, by=actor)
            raise _wrong_kind(connection)
        return connection

    def rotate_link_keys(
        self, connection_id: int, *, actor: str, needs_approval: bool
    ) -> Connection:
        """Bitbucket Data Center: a new key pair on the client (the bot makes it), under the
        same claim as a new key and secret; an administrator then replaces the application
        link's public key, and the same client is re-authorized. Raises CannotRepair or
        Problem and changes nothing when the store or Terraform says no."""
        connection = self._claim(
            connection_id, actor=actor, needs_approval=needs_approval, data_center=True
        )
        try:
            public = self.data_center.replace_link_keys(connection)
        except TFEError as error:
            self.rotations.release_rotation(connection_id, by=actor)
            raise _refusal(error, connection) from None
        except BaseException:
            self.rotations.release_rotation(connection_id, by=actor)
            raise
        log.info("application link keys rotated", extra={"connection": connection_id})
        return self.rotations.rotated(connection_id, actor=actor, link_public_key=public)

    def rotate(
        self, connection_id: int, *, key: str, secret: str, actor: str, needs_approval: bool
    ) -> tuple[Connection, ConsumerReport]:
        """Check the new consumer, give Terraform its key and secret, and ask `actor` to
        re-authorize. Raises Problem (on a field where it belongs) and changes nothing when
        the store refuses (not approved, not a live client, another submission under way)
        or Bitbucket or Terraform says no."""
        with REDACTOR.holding(secret, key=key):
            connection = self._claim(
                connection_id, actor=actor, needs_approval=needs_approval, data_center=False
            )
            assert connection.oauth_client_id is not None  # claim_rotation checked it
            try:
                report = self.checker.check(
                    key=key,
                    secret=secret,
                    username=connection.bitbucket_username,
                    workspace=connection.bitbucket_workspace,
                )
                self.tfe.update_oauth_client_credentials(
                    connection.oauth_client_id, key=key, secret=secret
                )
            except TFEError as error:
                self.rotations.release_rotation(connection_id, by=actor)
                log.warning(
                    "Terraform refused the new key and secret",
                    extra={"connection": connection_id, "status": error.status},
                )
                raise _refusal(error, connection) from None
            except BaseException:
                self.rotations.release_rotation(connection_id, by=actor)
                raise
        log.info("consumer key and secret rotated", extra={"connection": connection_id})
        return self.rotations.rotated(connection_id, actor=actor), report


def _wrong_kind(connection: Connection) -> CannotRepair:
    how = (
        "with new keys the bot makes (press Rotate)"
        if connection.data_center
        else "with a new consumer key and secret (press Rotate)"
    )
    return CannotRepair(
        f"Connection #{connection.id} reaches {connection.which_bitbucket.words}: it rotates "
        f"{how}. Nothing was changed.",
        retryable=False,
    )


def _refusal(error: TFEError, connection: Connection) -> Problem:
    """What the one rotating is told; Terraform's own words when it gave a reason."""
    if error.kind == TFEErrorKind.INVALID:
        for attribute in ("key", "secret"):
            if attribute in error.fields:
                return Problem(
                    f"Terraform refused the {attribute}: {error.fields[attribute]}",
                    field=attribute,
                )
        return Problem(
            f"This Terraform would not change the client's key and secret ({error.user_message}) "
            "Nothing was changed; the connection works as before."
        )
    if error.kind == TFEErrorKind.NOT_FOUND:
        return Problem(
            f"Terraform no longer has the OAuth client {connection.oauth_client_id}, or the bot's "
            "token may not change it. Nothing was changed.",
            retryable=False,
        )
    return Problem(f"{error.user_message} Nothing was changed.")
