"""A fake Bitbucket Cloud on loopback: the OAuth token endpoint and the bits of API 2.0 used."""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from tests.fakes.base import FakeServer, Reply, Request

ALL_SCOPES = "account:write pullrequest:write repository:admin webhook"


@dataclass
class FakeConsumer:
    key: str
    secret: str
    owner: str = "svc-terraform"
    private: bool = True
    callback_url: str | None = "https://example.com/replace-this-later"
    scopes: str = ALL_SCOPES


@dataclass
class FakeRepository:
    full_name: str
    permissions: dict[str, str] = field(default_factory=dict)  # username -> read/write/admin


class FakeBitbucket(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.consumers: dict[str, FakeConsumer] = {}
        self.repositories: list[FakeRepository] = []
        self.tokens: dict[str, str] = {}  # access token -> username
        self.route("POST", r"/site/oauth2/access_token", self._token)
        self.route("GET", r"/2.0/user", self._user)
        self.route("GET", r"/2.0/user/permissions/repositories", self._permissions)

    def add_consumer(self, key: str, secret: str, **kwargs: Any) -> FakeConsumer:
        consumer = FakeConsumer(key, secret, **kwargs)
        self.consumers[key] = consumer
        return consumer

    def add_repositories(self, workspace: str, names: list[str], **permissions: str) -> None:
        for name in names:
            self.repositories.append(FakeRepository(f"{workspace}/{name}", dict(permissions)))

    def _token(self, request: Request, match: re.Match[str]) -> Reply:
        auth = request.headers.get("authorization", "")
        try:
            key, _, secret = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
        except Exception:
            key, secret = "", ""
        consumer = self.consumers.get(key)
        if consumer is None or not secrets.compare_digest(consumer.secret, secret):
            return Reply(
                400,
                {
                    "error": "invalid_client",
                    "error_description": "Invalid OAuth client credentials",
                },
            )
        if request.form().get("grant_type") != "client_credentials":
            return Reply(400, {"error": "unsupported_grant_type"})
        if not consumer.callback_url:
            return Reply(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "No callback uri defined for the OAuth client.",
                },
            )
        if not consumer.private:
            return Reply(
                400,
                {
                    "error": "unauthorized_client",
                    "error_description": "Client credentials grant is only for private consumers",
                },
            )
        token = "fake-bb-access-" + secrets.token_hex(8)
        self.tokens[token] = consumer.owner
        return Reply(
            200,
            {
                "access_token": token,
                "scopes": consumer.scopes,
                "expires_in": 7200,
                "refresh_token": "fake-refresh",
                "token_type": "bearer",
                "state": "client_credentials",
            },
        )

    def _who(self, request: Request) -> str | None:
        return self.tokens.get(request.headers.get("authorization", "").removeprefix("Bearer "))

    def _user(self, request: Request, match: re.Match[str]) -> Reply:
        user = self._who(request)
        if user is None:
            return Reply(401, {"type": "error", "error": {"message": "Access token expired."}})
        return Reply(
            200,
            {
                "username": user,
                "display_name": user.title(),
                "uuid": "{" + secrets.token_hex(4) + "}",
                "account_id": "557058:fake",
            },
        )

    def _permissions(self, request: Request, match: re.Match[str]) -> Reply:
        user = self._who(request)
        if user is None:
            return Reply(401, {"type": "error", "error": {"message": "Access token expired."}})
        query = request.query.get("q", [""])[0]
        prefix = re.search(r'repository\.full_name ~ "([^"]*)"', query)
        only_admin = 'permission="admin"' in query
        values = []
        for repo in self.repositories:
            permission = repo.permissions.get(user)
            if permission is None or (prefix and prefix.group(1) not in repo.full_name):
                continue
            if only_admin and permission != "admin":
                continue
            values.append(
                {
                    "type": "repository_permission",
                    "permission": permission,
                    "repository": {"full_name": repo.full_name, "type": "repository"},
                    "user": {"username": user},
                }
            )
        size = int(request.query.get("pagelen", ["10"])[0])
        page = int(request.query.get("page", ["1"])[0])
        body: dict[str, Any] = {
            "pagelen": size,
            "page": page,
            "size": len(values),
            "values": values[(page - 1) * size : page * size],
        }
        if page * size < len(values):
            body["next"] = f"{self.url}{request.path}?" + urlencode(
                {"q": query, "pagelen": size, "page": page + 1}
            )
        return Reply(200, body)
