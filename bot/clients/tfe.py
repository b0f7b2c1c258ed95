"""TFE / HCP Terraform JSON:API v2: organizations, OAuth clients and their tokens."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from bot.clients.http import (
    RETRY_STATUSES,
    TIMEOUT,
    Exhausted,
    RateLimiter,
    RetryPolicy,
    send_with_retries,
    tls,
)
from bot.clients.tfe_dependents import DependentLists
from bot.clients.tfe_errors import TFEError, TFEErrorKind

log = logging.getLogger(__name__)

BITBUCKET_CLOUD = "bitbucket_hosted"
BITBUCKET_DATA_CENTER = "bitbucket_data_center"
JSONAPI = "application/vnd.api+json"
# TFE documents about 30 requests per second per token; stay a little under it.
RATE_PER_SECOND = 25.0


@dataclass(frozen=True)
class Organization:
    name: str
    # None when TFE did not say (older installs omit permission keys).
    can_update_oauth: bool | None


@dataclass(frozen=True)
class OAuthClient:
    id: str
    name: str | None
    service_provider: str
    callback_url: str | None
    connect_path: str | None
    token_ids: tuple[str, ...] = field(default=())
    # Data Center: the application link's consumer key and public key, as Terraform has them.
    key: str | None = None
    rsa_public_key: str | None = None


@dataclass(frozen=True)
class RepoSight:
    """What Terraform read through a token: the repositories on one page, and the total
    when Terraform says it."""

    listed: int
    total: int | None


# The page the token test reads: small, since one repository is proof enough.
SIGHT_PAGE = 20


@dataclass(frozen=True)
class OAuthToken:
    id: str
    service_provider_user: str | None
    created_at: str | None
    has_ssh_key: bool = False


class TFEClient:
    """A small client for the calls the bot makes; every method raises TFEError on failure."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        limiter: RateLimiter | None = None,
        policy: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = TIMEOUT,
        observe: Callable[[str, str, str, float], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Told of every call (method, path, status or "transport", seconds): the metrics.
        self._observe = observe
        self._http = httpx.Client(
            base_url=f"{self.base_url}/api/v2",
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": JSONAPI,
                "Accept": JSONAPI,
                "User-Agent": "connect-bitbucket",
            },
            timeout=timeout,
            transport=transport,
            verify=tls(),
        )
        self._limiter = limiter or RateLimiter(RATE_PER_SECOND)
        # What uses a connection's tokens: lists, relinks, re-publishing.
        self.dependents = DependentLists(self._pages, self._call)
        self._policy = policy or RetryPolicy()

    def close(self) -> None:
        self._http.close()

    # Organizations.

    def get_organization(self, name: str) -> Organization:
        """The organization and whether the token may manage its VCS settings."""
        body = self._call("GET", f"/organizations/{name}", what=f"organization {name}")
        return _organization(body.get("data") or {}, name)

    def list_organizations(self) -> list[Organization]:
        """Every organization the token can see, with its VCS-settings permission."""
        return [
            _organization(item, "")
            for item in self._pages("/organizations", what="the organizations list")
        ]

    def list_projects(self, organization: str) -> dict[str, str]:
        """The organization's projects: name → id."""
        return {
            str((item.get("attributes") or {}).get("name") or ""): str(item.get("id"))
            for item in self._pages(
                f"/organizations/{organization}/projects", what=f"the projects of {organization}"
            )
        }

    # OAuth clients.

    def create_oauth_client(
        self,
        organization: str,
        *,
        name: str,
        key: str,
        secret: str,
        http_url: str,
        api_url: str,
        uuid: str | None = None,
        projects: tuple[str, ...] = (),
        provider: str = BITBUCKET_CLOUD,
        rsa_public_key: str | None = None,
    ) -> OAuthClient:
        """Create a Bitbucket OAuth client; the secret goes into this one request only.

        `uuid` is the attribute TFE's own UI sends to fix the callback URL
        (`<TFE_URL>/auth/<uuid>/callback`) before the client exists; not in the public
        reference, so a TFE may ignore or refuse it. For Bitbucket Data Center the secret is
        the application link's private key (PEM) and `rsa_public_key` its public half.
        """
        attributes: dict[str, object] = {
            "service-provider": provider,
            "name": name,
            "http-url": http_url,
            "api-url": api_url,
            "key": key,
            "secret": secret,
            # Limited to projects: not organization-wide, and the projects named.
            "organization-scoped": not projects,
        }
        if uuid is not None:
            attributes["uuid"] = uuid
        if rsa_public_key is not None:
            attributes["rsa-public-key"] = rsa_public_key
        data: dict[str, object] = {"type": "oauth-clients", "attributes": attributes}
        if projects:
            data["relationships"] = {
                "projects": {"data": [{"type": "projects", "id": p} for p in projects]}
            }
        payload = {"data": data}
        body = self._call(
            "POST",
            f"/organizations/{organization}/oauth-clients",
            json=payload,
            what=f"organization {organization}",
            idempotent=False,
            redact=(secret,),
        )
        return _oauth_client(body.get("data") or {})

    def list_oauth_clients(self, organization: str) -> list[OAuthClient]:
        """Every OAuth client of the organization (following pages when TFE paginates)."""
        return [
            _oauth_client(item)
            for item in self._pages(
                f"/organizations/{organization}/oauth-clients",
                what=f"organization {organization}",
            )
        ]

    def get_oauth_client(self, client_id: str) -> OAuthClient:
        body = self._call("GET", f"/oauth-clients/{client_id}", what=f"OAuth client {client_id}")
        return _oauth_client(body.get("data") or {})

    def update_oauth_client_credentials(self, client_id: str, *, key: str, secret: str) -> None:
        """Give an existing client a new consumer key and secret (`PATCH /oauth-clients/:id`);
        its callback URL and what is linked to it stay. The secret goes into this request
        only."""
        self._patch_client(client_id, {"key": key, "secret": secret}, secret)

    def update_data_center_keys(self, client_id: str, *, secret: str, rsa_public_key: str) -> None:
        """Give a Bitbucket Data Center client a new key pair (`PATCH /oauth-clients/:id`,
        `secret` the private key and `rsa-public-key` its public half); the consumer key and
        what is linked stay. The private key goes into this request only."""
        self._patch_client(client_id, {"secret": secret, "rsa-public-key": rsa_public_key}, secret)

    def _patch_client(self, client_id: str, attributes: dict[str, str], secret: str) -> None:
        payload = {"data": {"type": "oauth-clients", "id": client_id, "attributes": attributes}}
        self._call(
            "PATCH",
            f"/oauth-clients/{client_id}",
            json=payload,
            what=f"OAuth client {client_id}",
            redact=(secret,),
        )

    def delete_oauth_client(self, client_id: str) -> None:
        self._call("DELETE", f"/oauth-clients/{client_id}", what=f"OAuth client {client_id}")

    def list_oauth_tokens(self, client_id: str) -> list[OAuthToken]:
        """The tokens TFE holds for a client: empty until someone authorized it."""
        tokens = []
        for item in self._pages(
            f"/oauth-clients/{client_id}/oauth-tokens", what=f"OAuth client {client_id}"
        ):
            attributes = item.get("attributes") or {}
            tokens.append(
                OAuthToken(
                    id=str(item.get("id")),
                    service_provider_user=attributes.get("service-provider-user"),
                    created_at=attributes.get("created-at"),
                    has_ssh_key=attributes.get("has-ssh-key") is True,
                )
            )
        return tokens

    def set_token_ssh_key(self, token_id: str, private_pem: str) -> bool:
        """Give a token the SSH key Terraform clones with (`PATCH /oauth-tokens/:id`,
        `ssh-key`: Bitbucket Data Center needs one); the key goes into this request only.
        Returns Terraform's `has-ssh-key` after it."""
        body = self._call(
            "PATCH",
            f"/oauth-tokens/{quote(token_id, safe='')}",
            json={
                "data": {
                    "type": "oauth-tokens",
                    "id": token_id,
                    "attributes": {"ssh-key": private_pem},
                }
            },
            what=f"OAuth token {token_id}",
            redact=(private_pem,),
        )
        return ((body.get("data") or {}).get("attributes") or {}).get("has-ssh-key") is True

    def authorized_repos(self, token_id: str) -> RepoSight:
        """One small page of the repositories Terraform reads through a token: to answer,
        Terraform uses the token at Bitbucket (`GET /oauth-tokens/:id/authorized-repos`, in
        Terraform's OpenAPI description). Sent once: the health lane tries again later."""
        body = self._call(
            "GET",
            f"/oauth-tokens/{quote(token_id, safe='')}/authorized-repos",
            what=f"OAuth token {token_id}",
            params={"page[size]": SIGHT_PAGE},
            idempotent=False,
        )
        data = body.get("data")
        listed = len(data) if isinstance(data, list) else 0
        total = ((body.get("meta") or {}).get("pagination") or {}).get("total-count")
        return RepoSight(
            listed=listed, total=total if isinstance(total, int) and total >= 0 else None
        )

    def repo_visible(self, organization: str, identifier: str, token_id: str) -> bool | None:
        """Whether Terraform, through the token, sees the repository (`GET
        /organizations/:org/vcs/repo`, a `vcs-repo-check` with `exists`, in Terraform's
        OpenAPI description); None where this Terraform answers 404 (it lacks the endpoint).
        Other errors raise."""
        try:
            body = self._call(
                "GET",
                f"/organizations/{quote(organization, safe='')}/vcs/repo",
                what=f"repository {identifier}",
                params={"identifier": identifier, "oauth_token_id": token_id},
            )
        except TFEError as error:
            if error.kind == TFEErrorKind.NOT_FOUND:
                return None
            raise
        attributes = (body.get("data") or {}).get("attributes") or {}
        return attributes.get("exists") is True

    # Plumbing.

    def _pages(self, path: str, *, what: str) -> Iterator[dict[str, Any]]:
        # Ask for the largest page from the start and keep that size, so a page boundary
        # never moves under us.
        params: dict[str, Any] = {"page[size]": 100}
        for _ in range(1000):
            body = self._call("GET", path, params=params, what=what)
            data = body.get("data") or []
            yield from data
            pagination = (body.get("meta") or {}).get("pagination") or {}
            next_page = pagination.get("next-page")
            if not next_page:
                return
            params = {"page[number]": next_page, "page[size]": 100}

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotent: bool = True,
        redact: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        started = time.monotonic()
        try:
            response = send_with_retries(
                lambda: self._http.request(method, path, json=json, params=params),
                limiter=self._limiter,
                policy=self._policy,
                retry_statuses=RETRY_STATUSES if idempotent else frozenset({429}),
                retry_transport_errors=idempotent,
            )
        except httpx.TransportError as error:
            self._observed(method, path, "transport", started)
            raise _unavailable(None, type(error).__name__) from None
        except Exhausted as exhausted:
            if exhausted.response is None:
                self._observed(method, path, "transport", started)
                reason = type(exhausted.error).__name__ if exhausted.error else "no answer"
                raise _unavailable(None, reason) from None
            response = exhausted.response
        self._observed(method, path, str(response.status_code), started)
        if response.status_code < 300:
            if response.status_code == 204 or not response.content:
                return {}
            try:
                body = response.json()
            except ValueError:
                raise TFEError(
                    TFEErrorKind.UNEXPECTED,
                    "Terraform answered with something that is not JSON; "
                    "check that TFE_URL points at Terraform.",
                    status=response.status_code,
                ) from None
            return body if isinstance(body, dict) else {}
        raise _error_for(response, what=what, redact=redact)

    def _observed(self, method: str, path: str, status: str, started: float) -> None:
        if self._observe is not None:
            self._observe(method, path, status, time.monotonic() - started)


def _organization(data: dict[str, Any], name: str) -> Organization:
    attributes = data.get("attributes") or {}
    can = (attributes.get("permissions") or {}).get("can-update-oauth")
    return Organization(
        name=attributes.get("name") or data.get("id") or name,
        can_update_oauth=can if isinstance(can, bool) else None,
    )


def _oauth_client(data: dict[str, Any]) -> OAuthClient:
    attributes = data.get("attributes") or {}
    tokens = ((data.get("relationships") or {}).get("oauth-tokens") or {}).get("data") or []
    return OAuthClient(
        id=str(data.get("id")),
        name=attributes.get("name"),
        service_provider=attributes.get("service-provider") or "",
        callback_url=attributes.get("callback-url"),
        connect_path=attributes.get("connect-path"),
        token_ids=tuple(str(t.get("id")) for t in tokens if isinstance(t, dict)),
        key=attributes.get("key"),
        rsa_public_key=attributes.get("rsa-public-key"),
    )


def _error_details(response: httpx.Response) -> tuple[tuple[str, ...], dict[str, str]]:
    """Error texts and per-attribute messages from either JSON:API error shape."""
    try:
        body = response.json()
    except ValueError:
        return (), {}
    errors = body.get("errors") if isinstance(body, dict) else None
    details: list[str] = []
    fields: dict[str, str] = {}
    for error in errors if isinstance(errors, list) else []:
        if isinstance(error, str):
            details.append(error)
            continue
        if not isinstance(error, dict):
            continue
        text = str(error.get("detail") or error.get("title") or "").strip()
        if not text:
            continue
        details.append(text)
        pointer = str((error.get("source") or {}).get("pointer") or "")
        if pointer.startswith("/data/attributes/"):
            fields[pointer.removeprefix("/data/attributes/")] = text
    return tuple(details), fields


def _scrub(text: str, redact: tuple[str, ...]) -> str:
    for secret in redact:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


def _unavailable(status: int | None, reason: str) -> TFEError:
    said = f"answered {status}" if status else f"did not answer ({reason})"
    return TFEError(
        TFEErrorKind.UNAVAILABLE,
        f"Terraform {said}. It may be busy or down; try again in a minute.",
        status=status,
    )


def _error_for(response: httpx.Response, *, what: str, redact: tuple[str, ...]) -> TFEError:
    status = response.status_code
    details, fields = _error_details(response)
    details = tuple(_scrub(d, redact) for d in details)
    fields = {k: _scrub(v, redact) for k, v in fields.items()}
    if status == 401:
        return TFEError(
            TFEErrorKind.UNAUTHORIZED,
            "Terraform refused the bot's API token (401). Whoever runs the bot must "
            "set TFE_TOKEN to a valid token.",
            status=status,
            details=details,
        )
    if status == 403:
        return TFEError(
            TFEErrorKind.FORBIDDEN,
            f"The bot's Terraform token may not do this for {what} (403). "
            "It needs permission to manage VCS settings there.",
            status=status,
            details=details,
        )
    if status == 404:
        return TFEError(
            TFEErrorKind.NOT_FOUND,
            f"Terraform could not find {what}, or the bot's token may not see it (404).",
            status=status,
            details=details,
        )
    if status == 422 or status == 400:
        said = "; ".join(details) or "the request was refused"
        return TFEError(
            TFEErrorKind.INVALID,
            f"Terraform refused the values: {said}.",
            status=status,
            details=details,
            fields=fields,
        )
    if status == 429:
        return TFEError(
            TFEErrorKind.RATE_LIMITED,
            "Terraform is rate-limiting the bot right now; try again in a minute.",
            status=status,
        )
    if status >= 500:
        # Kept (scrubbed): a provider's refusal is told from an outage by these words.
        return TFEError(
            TFEErrorKind.UNAVAILABLE,
            f"Terraform answered {status}. It may be busy or down; try again in a minute.",
            status=status,
            details=details,
        )
    return TFEError(
        TFEErrorKind.UNEXPECTED,
        f"Terraform answered {status} unexpectedly for {what}.",
        status=status,
        details=details,
    )
