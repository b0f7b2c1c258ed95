"""The connection flow: check the organization, create the OAuth client, watch for the token.

Each step calls TFE and the domain, and returns what happened; the Slack layer decides
how to show it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clients.tfe import BITBUCKET_CLOUD, OAuthClient, TFEClient, TFEError, TFEErrorKind
from bot.clock import Clock
from bot.connections.model import Connection
from bot.connections.service import ConnectionService, NewConnection
from bot.connections.states import InvalidTransition, State
from bot.redaction import REDACTOR

log = logging.getLogger(__name__)

# The most often a connection waiting for the owner to authorize is checked before
# they open the link (in case they authorize from the TFE UI instead).
UNCLICKED_CHECK_EVERY = 60.0
# However long the wait, a clicked connection is checked at least this often.
SLOWEST_CHECK_EVERY = 60.0


@dataclass(frozen=True)
class Problem:
    """Why a step could not go on: a message for the user, and the form field it is about."""

    message: str
    field: str | None = None
    retryable: bool = True


@dataclass(frozen=True)
class ConsumerValues:
    """What the owner types into Bitbucket's "Add OAuth consumer" form."""

    name: str
    callback_url: str
    url: str


PLACEHOLDER_CALLBACK = "https://example.com/replace-this-later"
PERMISSIONS = (
    ("Account", "Write"),
    ("Repositories", "Admin"),
    ("Pull requests", "Write"),
    ("Webhooks", "Read and write"),
)


@dataclass(frozen=True)
class FlowSettings:
    tfe_url: str
    bitbucket_url: str
    bitbucket_api_url: str
    token_poll_every: float


class ConnectFlow:
    """The steps from "connect this organization" to "TFE holds the token"."""

    def __init__(
        self, service: ConnectionService, tfe: TFEClient, settings: FlowSettings, clock: Clock
    ) -> None:
        self.service = service
        self.tfe = tfe
        self.settings = settings
        self.clock = clock

    # Step 0: the request.

    def check_organization(self, organization: str) -> Problem | None:
        """Ask TFE whether the organization exists and the bot may manage its VCS settings."""
        try:
            found = self.tfe.get_organization(organization)
        except TFEError as error:
            if error.kind == TFEErrorKind.NOT_FOUND:
                return Problem(
                    f"Terraform has no organization named {organization}, or the bot's token "
                    "may not see it. Check the spelling (it is the name in the address "
                    "app.terraform.io/app/<organization>), or ask an owner of the organization "
                    "to give the bot's token access.",
                    field="organization",
                )
            return Problem(error.user_message, retryable=error.kind != TFEErrorKind.UNAUTHORIZED)
        if found.can_update_oauth is False:
            return Problem(
                f"The bot's Terraform token can see {organization} but may not manage its VCS "
                "settings. An owner of the organization must give the token's team the "
                '"Manage VCS settings" permission (or use an owners-team token).',
                field="organization",
            )
        return None

    def open_connection_for(self, organization: str) -> Connection | None:
        return self.service.open_for_organization(organization)

    def start(self, request: NewConnection) -> Connection:
        """Record the connection; it now waits for the consumer's key and secret."""
        connection = self.service.start(request)
        log.info(
            "connection started",
            extra={"connection": connection.id, "organization": connection.organization},
        )
        return connection

    def consumer_values(self, connection: Connection) -> ConsumerValues:
        return ConsumerValues(
            name=f"Terraform Enterprise ({connection.organization})",
            callback_url=PLACEHOLDER_CALLBACK,
            url=self.settings.tfe_url,
        )

    # Steps 1 and 2: the key and secret, and the OAuth client.

    def client_name(self, connection: Connection, requester_name: str) -> str:
        """Says which Slack request made the client, so people (and the bot) can find it."""
        return (
            f"Bitbucket Cloud (via Slack, requested by @{requester_name}, "
            f"connection #{connection.id})"
        )

    def create_client(
        self, connection_id: int, *, key: str, secret: str, requester_name: str
    ) -> Connection | Problem:
        """Create the OAuth client in TFE with the key and secret, at most once.

        The secret is used for the one create call and then dropped.
        """
        with REDACTOR.holding(secret):
            connection = self.service.get(connection_id)
            if connection.current_state != State.AWAITING_CREDENTIALS:
                return connection
            if not self.service.claim_client_creation(connection_id):
                return Problem(
                    "The bot is already creating the OAuth client for this connection; "
                    "watch the progress message.",
                    retryable=False,
                )
            name = self.client_name(connection, requester_name)
            try:
                client = self._create_or_find(connection, name=name, key=key, secret=secret)
            except TFEError as error:
                self.service.release_client_creation(connection_id)
                log.warning(
                    "creating the OAuth client failed",
                    extra={"connection": connection_id, "status": error.status},
                )
                return _credentials_problem(error, connection.organization)
        return self._record_client(connection_id, client, name)

    def _create_or_find(
        self, connection: Connection, *, name: str, key: str, secret: str
    ) -> OAuthClient:
        attempts = 3
        for attempt in range(attempts):
            try:
                return self.tfe.create_oauth_client(
                    connection.organization,
                    name=name,
                    key=key,
                    secret=secret,
                    http_url=self.settings.bitbucket_url,
                    api_url=self.settings.bitbucket_api_url,
                )
            except TFEError as error:
                if not error.outcome_unknown:
                    raise
                # The answer was lost: the client may exist. Look before trying again.
                existing = self._find_client(connection.organization, name)
                if existing is not None:
                    log.info(
                        "found the OAuth client whose create answer was lost",
                        extra={"connection": connection.id, "client": existing.id},
                    )
                    return existing
                if attempt + 1 == attempts:
                    raise
        raise AssertionError("unreachable")

    def _find_client(self, organization: str, name: str) -> OAuthClient | None:
        for client in self.tfe.list_oauth_clients(organization):
            if client.service_provider == BITBUCKET_CLOUD and client.name == name:
                return client
        return None

    def _record_client(self, connection_id: int, client: OAuthClient, name: str) -> Connection:
        connection = self.service.advance_to(
            connection_id,
            State.AWAITING_CALLBACK,
            actor="bot",
            note=f"created OAuth client {client.id}",
            expect=State.AWAITING_CREDENTIALS,
            oauth_client_id=client.id,
            oauth_client_name=name,
            callback_url=client.callback_url,
            connect_path=client.connect_path,
            client_create_started_at=None,
        )
        log.info("OAuth client created", extra={"connection": connection_id, "client": client.id})
        return connection

    # Step 3: the callback URL.

    def confirm_callback(self, connection_id: int, actor: str) -> tuple[Connection, bool]:
        """The owner says the callback URL is in the consumer; next is authorizing.

        Returns whether this call moved the connection (a double click moves it once).
        """
        return self._advance_once(
            connection_id,
            State.AWAITING_AUTHORIZATION,
            expect=State.AWAITING_CALLBACK,
            actor=actor,
            next_due_at=self.clock.now() + timedelta(seconds=UNCLICKED_CHECK_EVERY),
        )

    def authorize_link(self, connection: Connection) -> str | None:
        if not connection.connect_path:
            return None
        return self.settings.tfe_url + connection.connect_path

    # Step 4 and 5: authorizing, and the token.

    def authorize_opened(self, connection_id: int) -> bool:
        """The owner opened the authorize link: watch closely from now on."""
        return self.service.mark_authorize_clicked(connection_id)

    def check_token(self, connection_id: int) -> tuple[Connection, bool]:
        """Ask TFE whether it holds a token for the connection's client; advance if so.

        Returns the connection and whether this call changed its state, so that exactly one
        caller (of several replicas) tells Slack.
        """
        connection = self.service.get(connection_id)
        if connection.current_state != State.AWAITING_AUTHORIZATION:
            return connection, False
        assert connection.oauth_client_id is not None
        try:
            tokens = self.tfe.list_oauth_tokens(connection.oauth_client_id)
        except TFEError as error:
            if error.kind != TFEErrorKind.NOT_FOUND:
                raise
            return self._advance_once(
                connection_id,
                State.FAILED,
                status_note=(
                    f"The OAuth client {connection.oauth_client_id} is gone from Terraform "
                    "(deleted, or the bot's token lost access to it). Press Start over to "
                    "begin again."
                ),
            )
        if not tokens:
            return connection, False
        token = tokens[0]
        connection, changed = self._advance_once(
            connection_id,
            State.CONNECTED,
            note=f"TFE holds OAuth token {token.id}",
            oauth_token_id=token.id,
            authorized_as=token.service_provider_user,
        )
        if changed:
            log.info(
                "connection complete",
                extra={"connection": connection_id, "client": connection.oauth_client_id},
            )
        return connection, changed

    def _advance_once(
        self,
        connection_id: int,
        target: State,
        *,
        expect: State = State.AWAITING_AUTHORIZATION,
        actor: str = "bot",
        note: str | None = None,
        **changes: object,
    ) -> tuple[Connection, bool]:
        """Move from `expect` to `target`; (current connection, False) if it was not there."""
        try:
            connection = self.service.advance_to(
                connection_id, target, actor=actor, note=note, expect=expect, **changes
            )
        except InvalidTransition:
            return self.service.get(connection_id), False
        return connection, True

    def next_token_check(self, connection: Connection) -> datetime | None:
        """When to look for the token next: often right after the click, slower later."""
        if connection.current_state != State.AWAITING_AUTHORIZATION:
            return None
        now = self.clock.now()
        return now + timedelta(
            seconds=token_check_interval(
                connection.authorize_clicked_at, now, self.settings.token_poll_every
            )
        )


def token_check_interval(clicked_at: datetime | None, now: datetime, poll_every: float) -> float:
    """Seconds until the next token check: `poll_every` at first, growing to a minute."""
    if clicked_at is None:
        return max(UNCLICKED_CHECK_EVERY, poll_every)
    elapsed = max(0.0, (now - clicked_at).total_seconds())
    return min(max(SLOWEST_CHECK_EVERY, poll_every), poll_every * (1 + elapsed / 60))


def _credentials_problem(error: TFEError, organization: str) -> Problem:
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
