"""The connection flow: check the organization, create the OAuth client, watch for the token.

Each step calls TFE and the domain, and returns what happened; the Slack layer decides
how to show it.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.clients.consumer_check import ConsumerChecker, ConsumerReport
from bot.clients.tfe import BITBUCKET_CLOUD, OAuthClient, TFEClient, TFEError, TFEErrorKind
from bot.clock import Clock
from bot.connect.refusals import credentials_problem, names_uuid
from bot.connect.token_watch import FlowSettings, TokenWatch
from bot.connections.model import Connection
from bot.connections.outbox import Owed
from bot.connections.pages import Pages, client_name
from bot.connections.service import ConnectionService
from bot.connections.states import FINAL, InvalidTransition, State
from bot.problems import Problem
from bot.redaction import REDACTOR

log = logging.getLogger(__name__)

ADD_ANOTHER = "add_another"


def duplicates_message(
    organization: str, clients: list[OAuthClient] | tuple[OAuthClient, ...]
) -> str:
    named = "; ".join(
        f"{c.name or 'unnamed'} ({c.id}, {'authorized' if c.token_ids else 'not authorized'})"
        for c in clients[:3]
    )
    count = len(clients)
    return (
        f"{organization} already has {count} Bitbucket Cloud connection"
        f"{'s' if count != 1 else ''} in Terraform: {named}. Workspaces can use "
        f"{'it' if count == 1 else 'them'}; a second one is rarely needed. To stop, press "
        'Cancel. To add another anyway, tick "Add another Bitbucket connection anyway".'
    )


def delete_unused_client(
    tfe: TFEClient, service: ConnectionService, connection_id: int, client_id: str
) -> None:
    """Delete the client Terraform made for a connection that ended meanwhile. A failure is
    logged with the client's id (for an administrator to delete by hand), not raised."""
    try:
        tfe.delete_oauth_client(client_id)
    except TFEError:
        log.warning(
            "could not delete the client of an ended connection",
            extra={"connection": connection_id, "client": client_id},
        )
        return
    service.record(
        connection_id, "bot", f"deleted OAuth client {client_id}: the connection had ended"
    )


class ConnectFlow:
    """The steps from "connect this organization" to "TFE holds the token"."""

    def __init__(
        self,
        service: ConnectionService,
        tfe: TFEClient,
        checker: ConsumerChecker,
        settings: FlowSettings,
        pages: Pages,
        clock: Clock,
        worker: str = "",
    ) -> None:
        self.service = service
        self.tfe = tfe
        self.checker = checker
        self.settings = settings
        self.pages = pages
        self.worker = worker  # names this running bot on its create claims
        self.clock = clock
        # After the Authorize link, watching Terraform for the token.
        self.tokens = TokenWatch(service, tfe, settings, clock)

    # Step 0: the request.

    def check_organization(self, organization: str) -> list[OAuthClient]:
        """Check with TFE that the organization exists and the bot may manage its VCS
        settings (a Problem if not); returns the Bitbucket Cloud clients it already has."""
        try:
            found = self.tfe.get_organization(organization)
            if found.can_update_oauth is False:
                raise Problem(
                    f"The bot's Terraform token can see {organization} but may not manage its "
                    "VCS settings. An owner of the organization must give the token's team the "
                    '"Manage VCS settings" permission (or use an owners-team token).',
                    field="organization",
                )
            return self.bitbucket_clients(organization)
        except TFEError as error:
            if error.kind == TFEErrorKind.NOT_FOUND:
                raise Problem(
                    f"Terraform has no organization named {organization}, or the bot's token "
                    "may not see it. Check the spelling (it is the name in the address "
                    f"{self.pages.tfe_host}/app/<organization>), or ask an owner of the "
                    "organization to give the bot's token access.",
                    field="organization",
                ) from None
            raise Problem(
                error.user_message, retryable=error.kind != TFEErrorKind.UNAUTHORIZED
            ) from None

    def resolve_projects(self, organization: str, names: list[str]) -> tuple[tuple[str, str], ...]:
        """The named projects' ids, in the order named (a Problem on the field if one is not
        found: names compare without regard to case, as in Terraform's list)."""
        if not names:
            return ()
        try:
            found = {
                name.lower(): (id_, name)
                for name, id_ in self.tfe.list_projects(organization).items()
            }
        except TFEError as error:
            raise Problem(
                f"Terraform would not list the projects of {organization} ({error.user_message}) "
                "Leave the field empty for the whole organization, or try again.",
                field="projects",
            ) from None
        missing = [name for name in names if name.lower() not in found]
        if missing:
            known = ", ".join(sorted(n for _, n in found.values())[:10]) or "none"
            raise Problem(
                f"{organization} has no project named {', '.join(missing)} (its projects: "
                f"{known}).",
                field="projects",
            )
        return tuple(found[name.lower()] for name in names)

    def bitbucket_clients(self, organization: str) -> list[OAuthClient]:
        return [
            c
            for c in self.tfe.list_oauth_clients(organization)
            if c.service_provider == BITBUCKET_CLOUD
        ]

    # Steps 1 and 2: the key and secret, and the OAuth client.

    def create_client(
        self,
        connection_id: int,
        *,
        key: str,
        secret: str,
        requester_name: str,
        add_another: bool = False,
    ) -> tuple[Connection, bool]:
        """Check the consumer with Bitbucket, then create the OAuth client in TFE, at most once.

        The secret is used for these calls and then dropped; nothing reaches TFE unless the
        check passed, and an existing Bitbucket client is never duplicated silently. Raises
        Problem when the consumer or TFE says no; the owner may then try again. Returns the
        connection and whether this call made its client (False: it had moved on already).
        """
        with REDACTOR.holding(secret, key=key):
            connection = self.service.get(connection_id)
            if connection.state != State.AWAITING_CREDENTIALS:
                return connection, False
            if not self.service.claim_client_creation(connection_id, self.worker):
                raise Problem(
                    "The bot is already creating the OAuth client for this connection; "
                    "watch the progress message.",
                    retryable=False,
                )
            try:
                client, name, report = self._check_and_create(
                    connection,
                    key=key,
                    secret=secret,
                    requester_name=requester_name,
                    add_another=add_another,
                )
            except TFEError as error:
                log.warning(
                    "creating the OAuth client failed",
                    extra={"connection": connection_id, "status": error.status},
                )
                self.service.release_client_creation(connection_id)
                raise credentials_problem(error, connection.organization) from None
            except BaseException:
                self.service.release_client_creation(connection_id)
                raise
        try:
            return self._record_client(connection_id, client, name, report), True
        except InvalidTransition:
            ended = self.service.get(connection_id)
            if ended.state not in FINAL or ended.oauth_client_id is not None:
                raise
            # Cancelled or expired while Terraform made the client: nobody will use it.
            self.service.release_client_creation(connection_id)
            delete_unused_client(self.tfe, self.service, connection_id, client.id)
            return ended, False

    def _check_and_create(
        self,
        connection: Connection,
        *,
        key: str,
        secret: str,
        requester_name: str,
        add_another: bool,
    ) -> tuple[OAuthClient, str, ConsumerReport]:
        report = self.checker.check(
            key=key,
            secret=secret,
            username=connection.bitbucket_username,
            workspace=connection.bitbucket_workspace,
        )
        name = client_name(connection, requester_name)
        clients = self.bitbucket_clients(connection.organization)
        # An earlier attempt may have made the client and lost the answer: use that one.
        ours = self._ours(connection, name)
        if ours is not None:
            return ours, name, report
        if clients and not (add_another or connection.duplicates_acknowledged):
            raise Problem(duplicates_message(connection.organization, clients), field=ADD_ANOTHER)
        client = self._create_or_find(connection, name=name, key=key, secret=secret)
        return client, name, report

    def _create_or_find(
        self, connection: Connection, *, name: str, key: str, secret: str
    ) -> OAuthClient:
        """Create the client with the connection's uuid (falling back to none when TFE
        refuses it), never making a second one when an earlier answer was lost."""
        uuid = connection.client_uuid
        failures = 0
        while True:
            try:
                return self.tfe.create_oauth_client(
                    connection.organization,
                    name=name,
                    key=key,
                    secret=secret,
                    http_url=self.settings.bitbucket_url,
                    api_url=self.settings.bitbucket_api_url,
                    uuid=uuid,
                    projects=tuple((connection.project_ids or "").split(","))
                    if connection.project_ids
                    else (),
                )
            except TFEError as error:
                refused_uuid = uuid is not None and names_uuid(error)
                if not (refused_uuid or error.outcome_unknown):
                    raise
                # The client may exist already: an answer was lost, or TFE says the uuid is
                # taken (by our own earlier attempt). Look before trying again.
                existing = self._ours(connection, name)
                if existing is not None:
                    log.info(
                        "found the OAuth client of an earlier attempt",
                        extra={"connection": connection.id, "client": existing.id},
                    )
                    return existing
                if refused_uuid:
                    log.info(
                        "Terraform refused the uuid attribute; creating without it",
                        extra={"connection": connection.id},
                    )
                    uuid = None
                    continue
                failures += 1
                if failures == 3:
                    raise

    def _ours(self, connection: Connection, name: str) -> OAuthClient | None:
        """The client an earlier attempt for this connection made: same name, or the
        callback URL of the connection's uuid."""
        marker = f"/auth/{connection.client_uuid}/" if connection.client_uuid else None
        return next(
            (
                c
                for c in self.bitbucket_clients(connection.organization)
                if c.name == name or (marker and marker in (c.callback_url or ""))
            ),
            None,
        )

    def _record_client(
        self, connection_id: int, client: OAuthClient, name: str, report: ConsumerReport
    ) -> Connection:
        changes: dict[str, Any] = {}
        connection = self.service.get(connection_id)
        if connection.bitbucket_username is None and report.owner:
            changes["bitbucket_username"] = report.owner  # whose account this is, on record
        # Step 1 showed the callback URL of the uuid; if TFE kept it, the consumer is done
        # and the owner goes straight to authorizing.
        differs = client.callback_url != self.pages.callback_url(connection)
        if differs and connection.client_uuid:
            log.info(
                "Terraform gave another callback URL than the one shown; asking to update it",
                extra={"connection": connection_id, "client": client.id},
            )
        connection = self.service.advance_to(
            connection_id,
            State.AWAITING_CALLBACK if differs else State.AWAITING_AUTHORIZATION,
            actor="bot",
            note=f"created OAuth client {client.id}",
            expect=State.AWAITING_CREDENTIALS,
            callback_differs=differs and connection.client_uuid is not None,
            owes=[] if differs else [Owed.AUTHORIZE],
            oauth_client_id=client.id,
            oauth_client_name=name,
            callback_url=client.callback_url,
            connect_path=client.connect_path,
            client_create_started_at=None,
            client_create_owner=None,
            check_warnings="\n".join(report.warnings) or None,
            **changes,
        )
        log.info("OAuth client created", extra={"connection": connection_id, "client": client.id})
        return connection

    # Step 3: the callback URL.

    def confirm_callback(self, connection_id: int, actor: str) -> tuple[Connection, bool]:
        """The owner says the callback URL is in the consumer; next is authorizing.

        Returns whether this call moved the connection (a double click moves it once).
        """
        return self.tokens.advance_once(
            connection_id,
            State.AWAITING_AUTHORIZATION,
            expect=State.AWAITING_CALLBACK,
            actor=actor,
            owes=[Owed.AUTHORIZE],
        )
