"""Bitbucket Cloud: the client-credentials check of a consumer, and what its token can see."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx

from bot.clients.http import (
    TIMEOUT,
    Exhausted,
    RateLimiter,
    RetryPolicy,
    send_with_retries,
    tls,
)

log = logging.getLogger(__name__)

# Bitbucket does not publish one number; this keeps a burst of checks well clear of it.
RATE_PER_SECOND = 10.0

# What TFE needs, as (scope area, level, how the consumer form names it).
REQUIRED_SCOPES: tuple[tuple[str, str, str], ...] = (
    ("account", "write", "Account: Write"),
    ("repository", "admin", "Repositories: Admin"),
    ("pullrequest", "write", "Pull requests: Write"),
    ("webhook", "read", "Webhooks: Read and write"),
)
_LEVELS = {"read": 0, "write": 1, "admin": 2}


class BitbucketErrorKind(StrEnum):
    BAD_CREDENTIALS = "bad_credentials"
    NO_CALLBACK_URL = "no_callback_url"
    NOT_PRIVATE = "not_private"
    UNAVAILABLE = "unavailable"
    UNEXPECTED = "unexpected"


class BitbucketError(Exception):
    """Bitbucket refused or failed a call; `user_message` says what happened and what to do."""

    def __init__(
        self, kind: BitbucketErrorKind, user_message: str, *, status: int | None = None
    ) -> None:
        super().__init__(f"Bitbucket {kind.value} (HTTP {status}): {user_message}")
        self.kind = kind
        self.user_message = user_message
        self.status = status


@dataclass(frozen=True)
class Grant:
    """A short-lived token acting as the consumer's owner; used for checks, then dropped."""

    access_token: str
    # None when Bitbucket did not say (then the permissions cannot be checked here).
    scopes: frozenset[str] | None

    def missing_permissions(self) -> list[str]:
        """The consumer form's names of the permissions TFE needs that the consumer lacks."""
        if self.scopes is None:
            return []
        held: dict[str, int] = {}
        for scope in self.scopes:
            area, _, level = scope.partition(":")
            held[area] = max(held.get(area, -1), _LEVELS.get(level or "read", 0))
        return [
            label for area, level, label in REQUIRED_SCOPES if held.get(area, -1) < _LEVELS[level]
        ]


@dataclass(frozen=True)
class BitbucketUser:
    username: str
    display_name: str | None


@dataclass(frozen=True)
class RepositoryAccess:
    """Repositories of a workspace the account can see, and those it is not admin on."""

    total: int
    not_admin: tuple[str, ...]


class BitbucketClient:
    def __init__(
        self,
        web_url: str,
        api_url: str,
        *,
        limiter: RateLimiter | None = None,
        policy: RetryPolicy | None = None,
        timeout: httpx.Timeout = TIMEOUT,
    ) -> None:
        self.web_url = web_url.rstrip("/")
        self.api_url = api_url.rstrip("/")
        self._http = httpx.Client(
            timeout=timeout, headers={"User-Agent": "connect-bitbucket"}, verify=tls()
        )
        self._limiter = limiter or RateLimiter(RATE_PER_SECOND)
        self._policy = policy or RetryPolicy()

    def close(self) -> None:
        self._http.close()

    def answers(self) -> int:
        """The HTTP status of an unauthenticated API call (401 is the expected answer);
        raises BitbucketError when the API cannot be reached."""
        response = self._send(lambda: self._http.get(f"{self.api_url}/user"))
        return response.status_code

    def client_credentials(self, key: str, secret: str) -> Grant:
        """Get a token with the consumer's key and secret: proves they work, shows the scopes."""
        response = self._send(
            lambda: self._http.post(
                f"{self.web_url}/site/oauth2/access_token",
                auth=(key, secret),
                data={"grant_type": "client_credentials"},
            )
        )
        body = _json(response)
        if response.status_code == 200 and body.get("access_token"):
            return Grant(
                access_token=str(body["access_token"]),
                scopes=frozenset(str(body["scopes"]).split()) if "scopes" in body else None,
            )
        raise _oauth_error(response.status_code, body)

    def current_user(self, grant: Grant) -> BitbucketUser:
        body = self._get(grant, f"{self.api_url}/user")
        return BitbucketUser(
            username=str(body.get("username") or body.get("nickname") or ""),
            display_name=body.get("display_name"),
        )

    def repository_access(
        self, grant: Grant, workspace: str, *, max_pages: int = 10
    ) -> RepositoryAccess:
        """Which repositories of `workspace` the account may see, and where it is not admin."""
        url: str | None = f"{self.api_url}/user/permissions/repositories"
        params: dict[str, Any] | None = {
            "q": f'repository.full_name ~ "{workspace}/"',
            "pagelen": 100,
        }
        total = 0
        not_admin: list[str] = []
        for _ in range(max_pages):
            if url is None:
                break
            body = self._get(grant, url, params=params)
            for item in body.get("values") or []:
                name = str((item.get("repository") or {}).get("full_name") or "")
                if not name.lower().startswith(workspace.lower() + "/"):
                    continue
                total += 1
                if item.get("permission") != "admin":
                    not_admin.append(name)
            url, params = body.get("next"), None
        return RepositoryAccess(total=total, not_admin=tuple(not_admin))

    def _get(self, grant: Grant, url: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._send(
            lambda: self._http.get(
                url, params=params, headers={"Authorization": f"Bearer {grant.access_token}"}
            )
        )
        if response.status_code != 200:
            message = ((_json(response).get("error") or {}) or {}).get("message") or ""
            raise BitbucketError(
                BitbucketErrorKind.UNEXPECTED,
                f"Bitbucket answered {response.status_code} {message}".strip(),
                status=response.status_code,
            )
        return _json(response)

    def _send(self, send: Any) -> httpx.Response:
        try:
            return send_with_retries(send, limiter=self._limiter, policy=self._policy)
        except Exhausted as exhausted:
            if exhausted.response is not None:
                status = exhausted.response.status_code
                said = f"answered {status}"
            else:
                status = None
                said = "did not answer"
            raise BitbucketError(
                BitbucketErrorKind.UNAVAILABLE,
                f"Bitbucket {said} while the bot checked the consumer. Try again in a minute.",
                status=status,
            ) from None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


_OAUTH_CODE = re.compile(r"[a-z_]{1,40}")


def _oauth_error(status: int, body: dict[str, Any]) -> BitbucketError:
    error = str(body.get("error") or "")
    description = str(body.get("error_description") or "")
    if error == "invalid_client" or (status == 401 and not error):
        return BitbucketError(
            BitbucketErrorKind.BAD_CREDENTIALS,
            "Bitbucket does not accept this key and secret together. Copy both again from "
            "the consumer (OAuth consumers → click its name).",
            status=status,
        )
    if "callback" in description.lower():
        return BitbucketError(
            BitbucketErrorKind.NO_CALLBACK_URL,
            "The consumer has no callback URL, so Bitbucket refuses every token. Edit the "
            "consumer, set the placeholder callback URL from step 1, Save, and press Connect "
            "again (the key and secret stay the same).",
            status=status,
        )
    if error:
        # Only an OAuth error code is shown: a body that echoes what it was sent stays out.
        code = error if _OAUTH_CODE.fullmatch(error) else "an OAuth error"
        return BitbucketError(
            BitbucketErrorKind.NOT_PRIVATE,
            f"Bitbucket refused the check ({code}): the consumer is not private, or it may "
            'not use the client-credentials grant. Edit the consumer, tick "This is a '
            'private consumer", Save, and press Connect again.',
            status=status,
        )
    return BitbucketError(
        BitbucketErrorKind.UNEXPECTED,
        f"Bitbucket answered {status} to the check. Try again in a minute.",
        status=status,
    )
