"""What Re-authorize and Rotate both stand on and write on a connection: it must be settled
on an OAuth client that still exists; why it is being re-authorized; where a rotation is."""

from __future__ import annotations

from enum import StrEnum

from bot.connections.model import Connection
from bot.connections.states import SETTLED
from bot.problems import Problem


class RepairReason(StrEnum):
    TOKEN_LOST = "token_lost"  # Terraform holds no token for the client any more
    OWNER_LEFT = "owner_left"  # the personal account's owner left the workspace
    WRONG_ACCOUNT = "wrong_account"  # authorized as another account than the one named
    ROTATED = "rotated"  # the consumer's key and secret were changed
    ASKED = "asked"  # someone chose to (a token about to lapse, a new keeper)

    @property
    def words(self) -> str:
        return {
            "token_lost": "Terraform lost its token",
            "owner_left": "its owner left",
            "wrong_account": "it was authorized as the wrong account",
            "rotated": "its key and secret were rotated",
            "asked": "someone asked for it",
        }[self.value]


class CannotRepair(Problem):
    """Re-authorizing cannot help this connection (not settled, or its client is gone)."""


def check_has_client(connection: Connection, doing: str, done: str) -> None:
    """Raise CannotRepair unless the connection is settled on an OAuth client that still
    exists: the one thing Re-authorize and Rotate act on."""
    if connection.state not in SETTLED or not connection.oauth_client_id:
        raise CannotRepair(
            f"Connection #{connection.id} is {connection.state.words}: there is nothing to "
            f"{doing} yet.",
            retryable=False,
        )
    if connection.client_gone:
        raise CannotRepair(
            f"The OAuth client of connection #{connection.id} is gone from Terraform, so it "
            f"cannot be {done}. Press *Reconnect* to set up a new one.",
            retryable=False,
        )


class RotationStage(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    AWAITING_CREDENTIALS = "awaiting_credentials"
    SENDING = "sending"  # one submission's key and secret are on their way to Terraform
    DENIED = "denied"
    DONE = "done"
