"""Bitbucket Data Center, the bot's side: which addresses people may connect, and whether
one is a Bitbucket Data Center, checked before anything is created.

A form field must never become a way to make the bot call inside the company's network:
an address is asked only once it matches one of BITBUCKET_DC_URL exactly (scheme, host,
port and path, without a trailing slash)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.clients.bitbucket_dc import Instance, NotDataCenter, application_properties
from bot.clients.tfe import BITBUCKET_DATA_CENTER, TFEClient, TFEError, TFEErrorKind
from bot.connect.flow import delete_unused_client
from bot.connections.model import Connection
from bot.connections.pages import client_name
from bot.connections.service import ConnectionService
from bot.connections.states import State
from bot.data_center import keys
from bot.data_center.store import DataCenterStore, MadeClient
from bot.problems import Problem
from bot.redaction import REDACTOR

log = logging.getLogger(__name__)

FIELD = "data_center_url"


@dataclass(frozen=True)
class CheckedAddress:
    url: str
    version: str


def normalized(url: str) -> str:
    """The address as BITBUCKET_DC_URL lists it: scheme and host in lower case, no slash at
    the end; what people paste from the address bar compares equal."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"


class DataCenterAddresses:
    """The Data Center addresses of this installation, and the check of one of them."""

    def __init__(
        self,
        allowed: tuple[str, ...],
        ask: Callable[[str], Instance] = application_properties,
    ) -> None:
        self.allowed = tuple(normalized(url) for url in allowed)
        self._ask = ask

    @property
    def offered(self) -> bool:
        """Data Center is offered in the form only when some address is configured."""
        return bool(self.allowed)

    @property
    def preset(self) -> str:
        return self.allowed[0] if self.allowed else ""

    def check(self, url: str) -> CheckedAddress:
        """The address, if it is allowed and answers as Bitbucket Data Center; else a
        Problem on the address field, in plain words."""
        given = normalized(url) if url.strip() else ""
        if not self.allowed:
            raise Problem(
                "This bot is not set up for Bitbucket Data Center (BITBUCKET_DC_URL is empty).",
                field=FIELD,
            )
        if given not in self.allowed:
            listed = ", ".join(self.allowed[:5])
            raise Problem(
                "The bot connects only the Bitbucket Data Center addresses its operators "
                f"listed: {listed}. Pick one of these, or ask them to add yours to "
                "BITBUCKET_DC_URL.",
                field=FIELD,
            )
        try:
            instance = self._ask(given)
        except NotDataCenter as refusal:
            raise Problem(str(refusal), field=FIELD) from None
        return CheckedAddress(url=given, version=instance.version)


class DataCenterFlow:
    """The Data Center steps around the Authorize link: the bot makes the keys and the
    client, an administrator links Terraform, and after the token the bot gives it an SSH
    key whose public half goes on the service user. People's lane runs the bot's steps."""

    def __init__(
        self,
        service: ConnectionService,
        store: DataCenterStore,
        tfe: TFEClient,
        addresses: DataCenterAddresses,
        worker: str = "",
    ) -> None:
        self.service = service
        self.store = store
        self.tfe = tfe
        self.addresses = addresses  # which Data Centers people may connect (the form's)
        self.worker = worker

    def due(self, connection: Connection) -> Connection:
        """What the bot does itself for a Data Center connection, when its time comes."""
        if not connection.data_center:
            return connection
        if connection.state == State.AWAITING_CREDENTIALS:
            return self.create_client(connection.id) or self.service.get(connection.id)
        if connection.token_needs_ssh_key and not connection.repairing:
            # The first token, or a new one after a re-authorization.
            return self.give_token_ssh_key(connection.id) or self.service.get(connection.id)
        return connection

    def create_client(self, connection_id: int) -> Connection | None:
        """Make the consumer key and the link's key pair, and the client with them, at most
        once (an earlier attempt's client is used). The private key goes to Terraform only.
        A refusal fails the connection with Terraform's words; an outage raises (retried)."""
        connection = self.service.get(connection_id)
        if connection.state != State.AWAITING_CREDENTIALS:
            return None
        if not self.service.claim_client_creation(connection_id, self.worker):
            return None
        try:
            made = self._ours(connection) or self._create(connection)
        except TFEError as error:
            self.service.release_client_creation(connection_id)
            if error.kind in (TFEErrorKind.UNAVAILABLE, TFEErrorKind.RATE_LIMITED):
                raise
            log.warning(
                "Terraform refused the Data Center client",
                extra={"connection": connection_id, "status": error.status},
            )
            return self.store.client_refused(
                connection_id,
                f"Terraform refused the Bitbucket Data Center client: {error.user_message} "
                "Press Start over to try again.",
            )
        except BaseException:
            self.service.release_client_creation(connection_id)
            raise
        log.info("OAuth client created", extra={"connection": connection_id, "client": made.id})
        recorded = self.store.client_made(connection_id, made)
        if recorded is None:
            # Cancelled (or expired) while Terraform made it: nobody will use it.
            delete_unused_client(self.tfe, self.service, connection_id, made.id)
        return recorded

    def _create(self, connection: Connection) -> MadeClient:
        pair = keys.application_link_keys()
        consumer_key = keys.consumer_key(connection.organization)
        name = _name(connection)
        url = connection.data_center_url or ""
        with REDACTOR.holding(pair.private_pem):
            for attempt in range(3):
                try:
                    client = self.tfe.create_oauth_client(
                        connection.organization,
                        name=name,
                        key=consumer_key,
                        secret=pair.private_pem,
                        http_url=url,
                        api_url=url,
                        projects=_projects(connection),
                        provider=BITBUCKET_DATA_CENTER,
                        rsa_public_key=pair.public,
                    )
                    return MadeClient(
                        client.id, name, consumer_key, pair.public, client.connect_path
                    )
                except TFEError as error:
                    if not error.outcome_unknown or attempt == 2:
                        raise
                    # The answer was lost: the client may exist. Look before trying again.
                    found = self._ours(connection)
                    if found is not None:
                        return found
        raise AssertionError("unreachable")

    def _ours(self, connection: Connection) -> MadeClient | None:
        """The client an earlier attempt for this connection made (same name), with the
        consumer key and public key Terraform has, which the administrator then enters."""
        name = _name(connection)
        for client in self.tfe.list_oauth_clients(connection.organization):
            if (
                client.service_provider == BITBUCKET_DATA_CENTER
                and client.name == name
                and client.key
                and client.rsa_public_key
            ):
                return MadeClient(
                    client.id, name, client.key, client.rsa_public_key, client.connect_path
                )
        return None

    def replace_link_keys(self, connection: Connection) -> str:
        """Rotate: a new key pair for the application link, PATCHed onto the client; returns
        the public half, which an administrator puts on the link before re-authorizing."""
        assert connection.oauth_client_id is not None
        pair = keys.application_link_keys()
        with REDACTOR.holding(pair.private_pem):
            self.tfe.update_data_center_keys(
                connection.oauth_client_id, secret=pair.private_pem, rsa_public_key=pair.public
            )
        return pair.public

    def hand_link_to(self, connection_id: int, actor: str, helper: str) -> Connection:
        """The owner names the administrator who creates the link (Problem if not theirs)."""
        return self.store.hand_link_to(connection_id, actor, helper)

    def link_created(self, connection_id: int, actor: str) -> tuple[Connection, bool]:
        """I've created the application link: on to authorizing (once, however many presses)."""
        return self.store.link_created(connection_id, actor)

    def give_token_ssh_key(self, connection_id: int) -> Connection | None:
        """Make an SSH key pair, PATCH the private key onto the token, check `has-ssh-key`,
        and keep the public half for the owner. Done again (a new pair) if it was lost."""
        connection = self.service.get(connection_id)
        token = connection.oauth_token_id
        if not connection.token_needs_ssh_key or token is None:
            return None
        pair = keys.ssh_keys(f"terraform-{connection.organization.lower()}")
        with REDACTOR.holding(pair.private_pem):
            has_key = self.tfe.set_token_ssh_key(token, pair.private_pem)
        if not has_key:
            raise TFEError(
                TFEErrorKind.UNEXPECTED,
                "Terraform took the SSH key but says the token has none; trying again.",
            )
        log.info("the token has its SSH key", extra={"connection": connection_id})
        return self.store.token_keyed(connection_id, token, pair.public)

    def ssh_key_added(self, connection_id: int, actor: str) -> tuple[Connection, bool]:
        """I've added the SSH key: connected (once, however many presses)."""
        return self.store.ssh_key_added(connection_id, actor)


def _name(connection: Connection) -> str:
    return client_name(connection, connection.owner_id)


def _projects(connection: Connection) -> tuple[str, ...]:
    return tuple(connection.project_ids.split(",")) if connection.project_ids else ()
