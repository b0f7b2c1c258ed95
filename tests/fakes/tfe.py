"""A fake TFE / HCP Terraform API v2 on loopback: organizations, OAuth clients and tokens."""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.base import FakeServer, Reply, Request

TOKEN = "fake-tfe-token-not-real"
JSONAPI = "application/vnd.api+json"
PROVIDERS = {
    "github",
    "github_enterprise",
    "gitlab_hosted",
    "gitlab_community_edition",
    "gitlab_enterprise_edition",
    "ado_server",
    "ado_services",
    "bitbucket_hosted",
    "bitbucket_server",
    "bitbucket_data_center",
}


def error_body(
    status: int, title: str, detail: str | None = None, attribute: str | None = None
) -> dict[str, Any]:
    """A JSON:API error document; `attribute` becomes the pointer /data/attributes/<it>."""
    error: dict[str, Any] = {"status": str(status), "title": title}
    if detail:
        error["detail"] = detail
    if attribute:
        error["source"] = {"pointer": f"/data/attributes/{attribute}"}
    return {"errors": [error]}


class AuthorizationFailed(Exception):
    """The service user's authorization failed at Bitbucket: no token was issued."""


def _data_center_key_refusal(attributes: dict[str, Any]) -> Reply | None:
    """Terraform requires `rsa-public-key` with a Data Center `secret`, and (in the fake, as
    a signature would show) that it is the public half of that private key. The RSA
    consistency check on load costs a tenth of a second a key, and the bot's keys come from
    `cryptography` itself: the fake skips it, and still compares the halves."""
    public = attributes.get("rsa-public-key")
    if not public:
        return _error(
            422, "invalid attribute", "Rsa public key can't be blank",
            "/data/attributes/rsa-public-key",
        )  # fmt: skip
    try:
        private = serialization.load_pem_private_key(
            str(attributes["secret"]).encode(), None, unsafe_skip_rsa_key_validation=True
        )
        derived = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        given = serialization.load_pem_public_key(str(public).encode()).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except Exception:
        return _error(
            422, "invalid attribute", "Secret must be a PEM RSA private key",
            "/data/attributes/secret",
        )  # fmt: skip
    if derived != given:
        return _error(
            422, "invalid attribute", "Rsa public key does not match the private key",
            "/data/attributes/rsa-public-key",
        )  # fmt: skip
    return None


def _error(status: int, title: str, detail: str | None = None, pointer: str | None = None) -> Reply:
    attribute = pointer.removeprefix("/data/attributes/") if pointer else None
    return Reply(status, error_body(status, title, detail, attribute), content_type=JSONAPI)


@dataclass
class FakeOrganization:
    name: str
    # None: the permission key is missing from the answer (older installs).
    can_update_oauth: bool | None = True
    number: int = 1


@dataclass
class FakeOAuthClient:
    id: str
    organization: str
    attributes: dict[str, Any]
    secret: str
    tokens: list[dict[str, Any]] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)


class FakeTFE(FakeServer):
    """Behaves like the documented API: JSON:API bodies, 401/404/422, pagination."""

    def __init__(self, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token
        self.organizations: dict[str, FakeOrganization] = {}
        self.clients: dict[str, FakeOAuthClient] = {}
        self.rate_limit: int | None = None  # requests per second, then 429
        self.refused_for_rate = 0  # how many got that 429
        # The UI's `uuid` attribute: "honour" it (the callback URL is built from it, as TFE's
        # UI relies on), "ignore" it (a TFE that picks its own), or "refuse" it with a 422.
        self.uuid_mode = "honour"
        self._window: list[float] = []
        self._minted = 0  # tokens made by reauthorize(), each a second later than the last
        self._issued: dict[str, str] = {}  # the last token id each client was given
        # Does the token work? `authorized-repos` lists `repos` for a live token. A token
        # Bitbucket no longer accepts answers as `revoked[token]` says: HashiCorp publishes
        # nothing on it, so the fake answers each plausible way ("422", "401", "500": an
        # errors document naming the provider; "empty": an empty list). `no_token_test`: a
        # Terraform without the endpoint (404 for every token).
        self.repos = [f"acme-team/repo-{n}" for n in range(3)]
        self.revoked: dict[str, str] = {}
        self.no_token_test = False
        self._rate_lock = threading.Lock()
        base = "/api/v2"
        self.route("GET", base + r"/organizations", self._list_orgs)
        self.route("GET", base + r"/organizations/(?P<org>[^/]+)", self._get_org)
        self.route("POST", base + r"/organizations/(?P<org>[^/]+)/oauth-clients", self._create)
        self.route("GET", base + r"/organizations/(?P<org>[^/]+)/oauth-clients", self._list)
        self.route("GET", base + r"/oauth-clients/(?P<id>[^/]+)", self._get_client)
        self.route("DELETE", base + r"/oauth-clients/(?P<id>[^/]+)", self._delete_client)
        self.route("PATCH", base + r"/oauth-clients/(?P<id>[^/]+)", self._update_client)
        self.route("GET", base + r"/oauth-clients/(?P<id>[^/]+)/oauth-tokens", self._tokens)
        self.route(
            "GET", base + r"/oauth-tokens/(?P<id>[^/]+)/authorized-repos", self._authorized_repos
        )
        self.route("PATCH", base + r"/oauth-tokens/(?P<id>[^/]+)", self._update_token)
        # Bitbucket Data Center: where the fake looks for the application link when the
        # service user authorizes, and the SSH keys tokens were given (token id -> PEM).
        self.data_center: Any = None
        self.ssh_keys: dict[str, str] = {}
        # What links to repositories through a token: per organization, per list.
        self.linked: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for path in ("workspaces", "policy-sets", "registry-modules"):
            self.route(
                "GET",
                base + rf"/organizations/(?P<org>[^/]+)/(?P<what>{path})",
                self._linked_list,
            )
        for path in ("workspaces", "policy-sets"):
            self.route("PATCH", base + rf"/(?P<what>{path})/(?P<id>[^/]+)", self._relink)
        # Repositories no token may see: the repository check says `exists: false`, and
        # relinking to one is refused with a 422. `refused_relinks`: repositories the check
        # still sees but whose relink is refused (access lost between dry run and move).
        self.hidden_repos: set[str] = set()
        self.refused_relinks: set[str] = set()
        self.route("GET", base + r"/organizations/(?P<org>[^/]+)/vcs/repo", self._repo_check)
        self.route(
            "DELETE",
            base + r"/organizations/(?P<org>[^/]+)/registry-modules/private/[^/]+/"
            r"(?P<name>[^/]+)/(?P<provider>[^/]+)",
            self._delete_module,
        )
        self.route(
            "POST", base + r"/organizations/(?P<org>[^/]+)/registry-modules/vcs", self._publish
        )
        # Projects per organization: name → id.
        self.projects: dict[str, dict[str, str]] = {}
        self.route("GET", base + r"/organizations/(?P<org>[^/]+)/projects", self._projects)

    # Test helpers.

    def add_organization(self, name: str, can_update_oauth: bool | None = True) -> None:
        self.organizations[name] = FakeOrganization(
            name, can_update_oauth, len(self.organizations) + 1
        )

    def authorize(self, client_id: str, user: str = "svc-terraform") -> str:
        """What Bitbucket's "Grant access" ends in: TFE now holds a token for the client.

        For a Data Center client the authorization is signed with the client's private key:
        without an application link of the client's consumer key and public key in the fake
        Data Center, it fails as the OAuth 1.0 signature check would (AuthorizationFailed,
        and no token)."""
        client = self.clients[client_id]
        if client.attributes.get("service-provider") == "bitbucket_data_center":
            link = self.data_center.link_for(client.attributes["key"]) if self.data_center else None
            if link is None:
                raise AuthorizationFailed("oauth_problem=consumer_key_unknown")
            if link.public_key != (client.attributes.get("rsa-public-key") or "").strip():
                raise AuthorizationFailed("oauth_problem=signature_invalid")
        with self.lock:
            token_id = "ot-" + secrets.token_hex(8)
            self._issued[client_id] = token_id
            self.revoked.pop(token_id, None)  # a fresh authorization works again
            self.clients[client_id].tokens.append(
                {
                    "id": token_id,
                    "type": "oauth-tokens",
                    "attributes": {
                        "uid": secrets.token_hex(4),
                        "created-at": "2026-11-28T12:00:00.000Z",
                        "has-ssh-key": False,
                        "service-provider-user": user,
                    },
                }
            )
            return token_id

    def reauthorize(
        self, client_id: str, user: str = "svc-terraform", *, same_id: bool = False
    ) -> str:
        """TFE's Reauthorize on an existing client: a new token for the same client, under
        a new id or (`same_id`) the old id made anew; what links to the old id stays as it
        was. Returns the token id."""
        with self.lock:
            client = self.clients[client_id]
            self._minted += 1
            made = f"2026-11-29T{self._minted // 3600:02d}:{self._minted // 60 % 60:02d}:" + (
                f"{self._minted % 60:02d}.000Z"
            )
            last = client.tokens[0]["id"] if client.tokens else self._issued.get(client_id)
            token_id = last if same_id and last else "ot-" + secrets.token_hex(8)
            self._issued[client_id] = token_id
            self.revoked.pop(token_id, None)  # a fresh authorization works again
            client.tokens[:] = [
                {
                    "id": token_id,
                    "type": "oauth-tokens",
                    "attributes": {
                        "uid": secrets.token_hex(4),
                        "created-at": made,
                        "has-ssh-key": False,
                        "service-provider-user": user,
                    },
                }
            ]
            return token_id

    def link(
        self,
        organization: str,
        what: str,
        name: str,
        token_id: str | None,
        identifier: str = "acme-team/infra",
        branch: str = "main",
        project: str | None = None,
        provider: str = "aws",
    ) -> str:
        """A workspace, policy set or registry module (`what`: the list's path) linked to a
        repository through `token_id` (None: not linked to VCS)."""
        prefix = {"workspaces": "ws-", "policy-sets": "polset-", "registry-modules": "mod-"}
        item_id = prefix[what] + secrets.token_hex(6)
        repo = (
            {"identifier": identifier, "branch": branch, "oauth-token-id": token_id}
            if token_id
            else None
        )
        with self.lock:
            item: dict[str, Any] = {
                "id": item_id,
                "type": what,
                "attributes": {"name": name, "vcs-repo": repo},
            }
            if what == "registry-modules":
                item["attributes"].update(provider=provider, namespace=organization)
            if project:
                item["relationships"] = {"project": {"data": {"id": project, "type": "projects"}}}
            self.linked.setdefault(organization, {}).setdefault(what, []).append(item)
        return item_id

    def _linked_list(self, request: Request, match: re.Match[str]) -> Reply:
        org = self._org(match["org"])
        if org is None:
            return _error(404, "not found")
        with self.lock:
            items = list(self.linked.get(org.name, {}).get(match["what"], []))
        return Reply(200, self._page(items, request), content_type=JSONAPI)

    def _delete_module(self, request: Request, match: re.Match[str]) -> Reply:
        org = self._org(match["org"], manage=True)
        if org is None:
            return _error(404, "not found")
        with self.lock:
            modules = self.linked.get(org.name, {}).get("registry-modules", [])
            for module in modules:
                attributes = module["attributes"]
                if (attributes["name"], attributes.get("provider")) == (
                    match["name"],
                    match["provider"],
                ):
                    modules.remove(module)
                    return Reply(204)
        return _error(404, "not found")

    def _publish(self, request: Request, match: re.Match[str]) -> Reply:
        """Publish from VCS: the module's name and provider come from its repository's name,
        terraform-<provider>-<name>, as Terraform requires."""
        org = self._org(match["org"], manage=True)
        if org is None:
            return _error(404, "not found")
        try:
            repo = request.json()["data"]["attributes"]["vcs-repo"]
            identifier, token = repo["identifier"], repo["oauth-token-id"]
        except Exception:
            return _error(422, "invalid attribute", "vcs-repo needs identifier and oauth-token-id")
        with self.lock:
            known = any(t["id"] == token for c in self.clients.values() for t in c.tokens)
        parts = identifier.split("/")[-1].split("-", 2)
        if not known or identifier in self.hidden_repos:
            return _error(422, "invalid attribute", "Oauth token not found or cannot see it")
        if len(parts) != 3 or parts[0] != "terraform":
            return _error(
                422, "invalid attribute", "Repository name must be terraform-<PROVIDER>-<NAME>"
            )
        self.link(
            org.name, "registry-modules", parts[2], token, identifier=identifier, provider=parts[1]
        )
        return Reply(201, {"data": {"type": "registry-modules", "attributes": {"name": parts[2]}}})

    def add_project(self, organization: str, name: str) -> str:
        project_id = "prj-" + secrets.token_hex(6)
        with self.lock:
            self.projects.setdefault(organization, {})[name] = project_id
        return project_id

    def _projects(self, request: Request, match: re.Match[str]) -> Reply:
        org = self._org(match["org"])
        if org is None:
            return _error(404, "not found")
        with self.lock:
            items = [
                {"id": i, "type": "projects", "attributes": {"name": n}}
                for n, i in self.projects.get(org.name, {}).items()
            ]
        return Reply(200, self._page(items, request), content_type=JSONAPI)

    def linked_item(self, item_id: str) -> dict[str, Any] | None:
        with self.lock:
            for lists in self.linked.values():
                for items in lists.values():
                    for item in items:
                        if item["id"] == item_id:
                            return item
        return None

    def _relink(self, request: Request, match: re.Match[str]) -> Reply:
        item = self.linked_item(match["id"])
        if item is None or item["type"] != match["what"]:
            return _error(404, "not found")
        try:
            repo = request.json()["data"]["attributes"]["vcs-repo"]
            token = repo["oauth-token-id"]
            identifier = repo["identifier"]
        except Exception:
            return _error(422, "invalid attribute", "vcs-repo needs oauth-token-id and identifier")
        with self.lock:
            owner = next(
                (c for c in self.clients.values() if any(t["id"] == token for t in c.tokens)), None
            )
        known = owner is not None
        if owner is not None and owner.attributes.get("organization-scoped") is False:
            project = ((item.get("relationships") or {}).get("project") or {}).get("data") or {}
            if project.get("id") not in owner.projects:
                return _error(
                    422,
                    "invalid attribute",
                    "The OAuth client is not available to this workspace's project",
                    "/data/attributes/vcs-repo",
                )
        if not known:
            return _error(
                422, "invalid attribute", "Oauth token not found", "/data/attributes/vcs-repo"
            )
        if identifier in self.hidden_repos or identifier in self.refused_relinks:
            return _error(
                422,
                "invalid attribute",
                f"Repository {identifier} was not found, or the token cannot see it",
                "/data/attributes/vcs-repo",
            )
        with self.lock:
            item["attributes"]["vcs-repo"] = {
                "identifier": identifier,
                "branch": repo.get("branch") or "",
                "oauth-token-id": token,
            }
        return Reply(200, {"data": item}, content_type=JSONAPI)

    def add_client_by_hand(self, organization: str) -> str:
        """A Bitbucket client someone made in the TFE UI, with a token."""
        client_id = "oc-byhand" + secrets.token_hex(4)
        with self.lock:
            self.clients[client_id] = FakeOAuthClient(
                id=client_id,
                organization=organization,
                secret="fake-other-secret",
                attributes={"service-provider": "bitbucket_hosted", "name": "Made by hand"},
                tokens=[{"id": "ot-byhand", "type": "oauth-tokens", "attributes": {}}],
            )
        return client_id

    def bitbucket_clients(self, organization: str) -> list[FakeOAuthClient]:
        with self.lock:
            return [
                c
                for c in self.clients.values()
                if c.organization == organization
                and c.attributes["service-provider"] == "bitbucket_hosted"
            ]

    # Plumbing shared by every route.

    def _dispatch(self, request: Request, handler: Any) -> None:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            with self.lock:
                self.requests.append(request)
            self._send(handler, _error(401, "unauthorized"))
            return
        if self._over_rate_limit():
            with self.lock:
                self.requests.append(request)
                self.refused_for_rate += 1
            self._send(
                handler,
                Reply(
                    429,
                    {"errors": [{"status": "429", "title": "Too Many Requests"}]},
                    {"X-RateLimit-Reset": "0.2"},
                    JSONAPI,
                ),
            )
            return
        super()._dispatch(request, handler)

    def _over_rate_limit(self) -> bool:
        if self.rate_limit is None:
            return False
        with self._rate_lock:
            now = time.monotonic()
            self._window = [t for t in self._window if now - t < 1.0]
            if len(self._window) >= self.rate_limit:
                return True
            self._window.append(now)
            return False

    def _org(self, name: str, *, manage: bool = False) -> FakeOrganization | None:
        # TFE finds an organization by its name in any case.
        org = next((o for n, o in self.organizations.items() if n.lower() == name.lower()), None)
        if org is None or (manage and org.can_update_oauth is False):
            return None  # TFE hides what the token may not touch behind a 404
        return org

    # Routes.

    def _org_json(self, org: FakeOrganization) -> dict[str, Any]:
        permissions: dict[str, bool] = {"can-update": True, "can-destroy": False}
        if org.can_update_oauth is not None:
            permissions["can-update-oauth"] = org.can_update_oauth
        return {
            "id": org.name,
            "type": "organizations",
            "attributes": {
                "name": org.name,
                "email": f"admin@{org.name}.example",
                "permissions": permissions,
            },
        }

    def _get_org(self, request: Request, match: re.Match[str]) -> Reply:
        org = self._org(match["org"])
        if org is None:
            return _error(404, "not found")
        return Reply(200, {"data": self._org_json(org)}, content_type=JSONAPI)

    def _list_orgs(self, request: Request, match: re.Match[str]) -> Reply:
        with self.lock:
            items = [self._org_json(org) for org in self.organizations.values()]
        return Reply(200, self._page(items, request), content_type=JSONAPI)

    def _client_json(self, client: FakeOAuthClient) -> dict[str, Any]:
        return {
            "id": client.id,
            "type": "oauth-clients",
            "attributes": client.attributes,
            "relationships": {
                "organization": {"data": {"id": client.organization, "type": "organizations"}},
                "oauth-tokens": {
                    "data": [{"id": t["id"], "type": "oauth-tokens"} for t in client.tokens],
                    "links": {"related": f"/api/v2/oauth-clients/{client.id}/oauth-tokens"},
                },
                "projects": {"data": [{"id": p, "type": "projects"} for p in client.projects]},
            },
        }

    def _create(self, request: Request, match: re.Match[str]) -> Reply:
        org = self._org(match["org"], manage=True)
        if org is None:
            return _error(404, "not found")
        if request.headers.get("content-type", "").split(";")[0] != JSONAPI:
            return _error(415, "unsupported media type")
        try:
            data = request.json()["data"]
            attributes = data["attributes"]
            assert data["type"] == "oauth-clients"
        except Exception:
            return _error(422, "invalid attribute", "Body is not a JSON:API oauth-clients document")
        provider = attributes.get("service-provider")
        if provider not in PROVIDERS:
            return _error(
                422,
                "invalid attribute",
                "Service provider is not included in the list",
                "/data/attributes/service-provider",
            )
        for name in ("http-url", "api-url", "key", "secret"):
            if not attributes.get(name):
                return _error(
                    422,
                    "invalid attribute",
                    f"{name.replace('-', ' ').capitalize()} can't be blank",
                    f"/data/attributes/{name}",
                )
        if provider == "bitbucket_data_center":
            refusal = _data_center_key_refusal(attributes)
            if refusal is not None:
                return refusal
        auth = str(uuid.uuid4())
        given = attributes.get("uuid")
        if given is not None and self.uuid_mode == "refuse":
            return _error(
                422,
                "invalid attribute",
                "Uuid is not a permitted attribute",
                "/data/attributes/uuid",
            )
        if given is not None and self.uuid_mode == "honour":
            try:
                auth = str(uuid.UUID(str(given)))
            except ValueError:
                return _error(422, "invalid attribute", "Uuid is invalid", "/data/attributes/uuid")
            with self.lock:
                taken = any(
                    f"/auth/{auth}/" in (c.attributes.get("callback-url") or "")
                    for c in self.clients.values()
                )
            if taken:
                return _error(
                    422, "invalid attribute", "Uuid has already been taken", "/data/attributes/uuid"
                )
        scoped = attributes.get("organization-scoped", True)
        related = (((data.get("relationships") or {}).get("projects") or {}).get("data")) or []
        projects = [str(p.get("id")) for p in related if isinstance(p, dict)]
        with self.lock:
            known_projects = set(self.projects.get(org.name, {}).values())
        if scoped is False and (not projects or not set(projects) <= known_projects):
            return _error(
                422,
                "invalid attribute",
                "Projects must name projects of the organization when not organization-scoped",
                "/data/relationships/projects",
            )
        client_id = "oc-" + secrets.token_urlsafe(12).replace("-", "a").replace("_", "b")[:16]
        client = FakeOAuthClient(
            id=client_id,
            organization=org.name,
            secret=attributes["secret"],
            attributes={
                "created-at": "2026-11-28T12:00:00.000Z",
                "callback-url": f"{self.url}/auth/{auth}/callback",
                "connect-path": f"/auth/{auth}?organization_id={org.number}",
                "service-provider": provider,
                "service-provider-display-name": (
                    "Bitbucket Data Center"
                    if provider == "bitbucket_data_center"
                    else "Bitbucket Cloud"
                ),
                "name": attributes.get("name"),
                "http-url": attributes["http-url"],
                "api-url": attributes["api-url"],
                "key": attributes["key"],
                "rsa-public-key": attributes.get("rsa-public-key"),
                "organization-scoped": scoped,
            },
            projects=projects,
        )
        with self.lock:
            self.clients[client_id] = client
        return Reply(201, {"data": self._client_json(client)}, content_type=JSONAPI)

    def _list(self, request: Request, match: re.Match[str]) -> Reply:
        org = self._org(match["org"])
        if org is None:
            return _error(404, "not found")
        with self.lock:
            items = [
                self._client_json(c) for c in self.clients.values() if c.organization == org.name
            ]
        return Reply(200, self._page(items, request), content_type=JSONAPI)

    def _page(self, items: list[dict[str, Any]], request: Request) -> dict[str, Any]:
        if "page[number]" not in request.query and "page[size]" not in request.query:
            return {"data": items}
        size = min(100, int(request.query.get("page[size]", ["20"])[0]))
        number = int(request.query.get("page[number]", ["1"])[0])
        total_pages = max(1, -(-len(items) // size))
        return {
            "data": items[(number - 1) * size : number * size],
            "meta": {
                "pagination": {
                    "current-page": number,
                    "page-size": size,
                    "next-page": number + 1 if number < total_pages else None,
                    "prev-page": number - 1 if number > 1 else None,
                    "total-pages": total_pages,
                    "total-count": len(items),
                }
            },
        }

    def _get_client(self, request: Request, match: re.Match[str]) -> Reply:
        client = self.clients.get(match["id"])
        if client is None:
            return _error(404, "not found")
        return Reply(200, {"data": self._client_json(client)}, content_type=JSONAPI)

    def _update_client(self, request: Request, match: re.Match[str]) -> Reply:
        client = self.clients.get(match["id"])
        if client is None:
            return _error(404, "not found")
        try:
            data = request.json()["data"]
            attributes = data["attributes"]
            assert data["type"] == "oauth-clients"
        except Exception:
            return _error(422, "invalid attribute", "Body is not a JSON:API oauth-clients document")
        for name in ("key", "secret"):
            if name in attributes and not attributes[name]:
                return _error(
                    422,
                    "invalid attribute",
                    f"{name.capitalize()} can't be blank",
                    f"/data/attributes/{name}",
                )
        data_center = client.attributes["service-provider"] == "bitbucket_data_center"
        if data_center and "secret" in attributes:
            refusal = _data_center_key_refusal(attributes)  # a new pair must match, as on POST
            if refusal is not None:
                return refusal
        kept = ("name", "key", "organization-scoped", *(("rsa-public-key",) if data_center else ()))
        with self.lock:
            if "secret" in attributes:
                client.secret = attributes.pop("secret")
            client.attributes.update({k: v for k, v in attributes.items() if k in kept})
        return Reply(200, {"data": self._client_json(client)}, content_type=JSONAPI)

    def _update_token(self, request: Request, match: re.Match[str]) -> Reply:
        """`PATCH /oauth-tokens/:id`: only `ssh-key`, a PEM RSA private key without a
        passphrase; the token's `has-ssh-key` becomes true. The key is never echoed."""
        with self.lock:
            found = [
                (c, t) for c in self.clients.values() for t in c.tokens if t["id"] == match["id"]
            ]
        if not found:
            return _error(404, "not found")
        client, token = found[0]
        try:
            data = request.json()["data"]
            key = str(data["attributes"]["ssh-key"])
            assert data["type"] == "oauth-tokens"
        except Exception:
            return _error(422, "invalid attribute", "Body is not a JSON:API oauth-tokens document")
        try:
            private = serialization.load_pem_private_key(
                key.encode(), password=None, unsafe_skip_rsa_key_validation=True
            )
            assert isinstance(private, rsa.RSAPrivateKey)
        except Exception:
            return _error(
                422, "invalid attribute", "Ssh key is not a valid RSA private key",
                "/data/attributes/ssh-key",
            )  # fmt: skip
        with self.lock:
            self.ssh_keys[token["id"]] = key
            token["attributes"]["has-ssh-key"] = True
            body = dict(token, relationships={
                "oauth-client": {"data": {"id": client.id, "type": "oauth-clients"}}
            })  # fmt: skip
        return Reply(200, {"data": body}, content_type=JSONAPI)

    def _delete_client(self, request: Request, match: re.Match[str]) -> Reply:
        if not self.delete_client(match["id"]):
            return _error(404, "not found")
        return Reply(204)

    def delete_client(self, client_id: str) -> bool:
        """Delete a client (as the API or the web UI does); False if there was none."""
        with self.lock:
            client = self.clients.pop(client_id, None)
            if client is None:
                return False
            # As TFE does: whatever used the client's tokens is unlinked.
            tokens = {t["id"] for t in client.tokens}
            for lists in self.linked.values():
                for items in lists.values():
                    for item in items:
                        repo = item["attributes"].get("vcs-repo") or {}
                        if repo.get("oauth-token-id") in tokens:
                            item["attributes"]["vcs-repo"] = None
        return True

    def _authorized_repos(self, request: Request, match: re.Match[str]) -> Reply:
        token = match["id"]
        with self.lock:
            live = any(t["id"] == token for c in self.clients.values() for t in c.tokens)
            how = self.revoked.get(token)
            repos = list(self.repos)
        if self.no_token_test or not live:
            return _error(404, "not found")
        refused = "Bitbucket refused the OAuth token: the VCS provider returned 401 Unauthorized"
        if how in ("422", "401"):
            return _error(int(how), "VCS provider error", refused)
        if how == "500":
            return _error(500, "internal error", f"{refused} (while listing repositories)")
        items = (
            []
            if how == "empty"
            else [
                {
                    "id": name,
                    "type": "authorized-repos",
                    "attributes": {"name": name, "display-identifier": name},
                }
                for name in repos
            ]
        )
        page = self._page(items, request)
        page.setdefault("meta", {}).setdefault("pagination", {})["total-count"] = len(items)
        return Reply(200, page, content_type=JSONAPI)

    def _repo_check(self, request: Request, match: re.Match[str]) -> Reply:
        """`vcs-repo-check`: does the repository exist and can the token see it (Terraform's
        OpenAPI description); 404 where this Terraform lacks the endpoint."""
        org = self._org(match["org"])
        identifier = (request.query.get("identifier") or [""])[0]
        token = (request.query.get("oauth_token_id") or [""])[0]
        if org is None or self.no_token_test:
            return _error(404, "not found")
        if not identifier or not token:
            return _error(422, "invalid attribute", "identifier and oauth_token_id are required")
        with self.lock:
            live = any(t["id"] == token for c in self.clients.values() for t in c.tokens)
        if not live:
            return _error(404, "not found")
        exists = identifier not in self.hidden_repos
        return Reply(
            200,
            {
                "data": {
                    "id": identifier,
                    "type": "vcs-repo-check",
                    "attributes": {"exists": exists, "identifier": identifier},
                }
            },
            content_type=JSONAPI,
        )

    def _tokens(self, request: Request, match: re.Match[str]) -> Reply:
        client = self.clients.get(match["id"])
        if client is None:
            return _error(404, "not found")
        with self.lock:
            items = [
                dict(
                    t,
                    relationships={
                        "oauth-client": {"data": {"id": client.id, "type": "oauth-clients"}}
                    },
                )
                for t in client.tokens
            ]
        return Reply(200, self._page(items, request), content_type=JSONAPI)
