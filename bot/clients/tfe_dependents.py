"""What in Terraform uses an OAuth client's tokens: workspaces, policy sets and registry
modules whose `vcs-repo.oauth-token-id` names one (TFEClient inherits these calls)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from bot.clients.tfe_errors import TFEError, TFEErrorKind


@dataclass(frozen=True)
class Dependent:
    """Something in Terraform linked to a repository through an OAuth token: a workspace, a
    policy set or a registry module published from VCS."""

    kind: str  # "workspace", "policy set", "registry module"
    id: str
    name: str
    identifier: str | None  # the repository, workspace/repo for Bitbucket Cloud
    branch: str | None
    oauth_token_id: str | None
    project_id: str | None = None  # a workspace's project
    provider: str | None = None  # a registry module's


# What lists dependents, by kind: the organization's list path.
DEPENDENT_LISTS = {
    "workspace": "workspaces",
    "policy set": "policy-sets",
    "registry module": "registry-modules",
}


# Where each kind is changed, and its JSON:API type.
DEPENDENT_PATHS = {"workspace": "workspaces", "policy set": "policy-sets"}


class Pages(Protocol):
    def __call__(self, path: str, *, what: str) -> Iterator[dict[str, Any]]: ...


class Call(Protocol):
    def __call__(
        self, method: str, path: str, *, what: str, json: Any = None
    ) -> dict[str, Any]: ...


class DependentLists:
    """What uses a connection's tokens: the list, relink and re-publish calls, made through
    the Terraform client's paging and calling (TFEClient.dependents)."""

    def __init__(self, pages: Pages, call: Call) -> None:
        self._pages = pages
        self._call = call

    def republish_module(
        self, organization: str, *, name: str, provider: str, identifier: str, token_id: str
    ) -> None:
        """Delete a private registry module and publish it again from its repository with
        another OAuth token (HashiCorp's recipe: a module's VCS source is not changed in
        place). A module already gone is published all the same."""
        org = quote(organization, safe="")
        try:
            self._call(
                "DELETE",
                f"/organizations/{org}/registry-modules/private/{org}/"
                f"{quote(name, safe='')}/{quote(provider, safe='')}",
                what=f"registry module {name}/{provider}",
            )
        except TFEError as error:
            if error.kind != TFEErrorKind.NOT_FOUND:
                raise
        self._call(
            "POST",
            f"/organizations/{org}/registry-modules/vcs",
            json={
                "data": {
                    "type": "registry-modules",
                    "attributes": {
                        "vcs-repo": {
                            "identifier": identifier,
                            "oauth-token-id": token_id,
                            "display-identifier": identifier,
                        }
                    },
                }
            },
            what=f"registry module {name}/{provider}",
        )

    def relink(
        self, kind: str, item_id: str, *, token_id: str, identifier: str, branch: str | None
    ) -> None:
        """Point a workspace or policy set at another OAuth token, keeping its repository and
        branch (`PATCH /workspaces/:id` or `/policy-sets/:id` with `vcs-repo`). The same call
        made twice leaves the same result."""
        path = DEPENDENT_PATHS[kind]
        repo: dict[str, str] = {"oauth-token-id": token_id, "identifier": identifier}
        if branch:
            repo["branch"] = branch
        self._call(
            "PATCH",
            f"/{path}/{quote(item_id, safe='')}",
            json={"data": {"type": path, "attributes": {"vcs-repo": repo}}},
            what=f"{kind} {item_id}",
        )

    def list_dependents(
        self, organization: str, token_ids: set[str]
    ) -> dict[str, list[Dependent] | None]:
        """Per kind, the workspaces, policy sets and registry modules of the organization
        whose VCS link uses one of these OAuth tokens (`vcs-repo.oauth-token-id`); None for a
        kind this Terraform (or this token) will not list. The lists carry no filter on the
        token, so every page is read and filtered here."""
        found: dict[str, list[Dependent] | None] = {}
        for kind, path in DEPENDENT_LISTS.items():
            try:
                found[kind] = [
                    dependent
                    for item in self._pages(
                        f"/organizations/{quote(organization, safe='')}/{path}",
                        what=f"the {kind}s of {organization}",
                    )
                    if (dependent := _dependent(kind, item)).oauth_token_id in token_ids
                ]
            except TFEError as error:
                if error.kind not in (TFEErrorKind.NOT_FOUND, TFEErrorKind.FORBIDDEN):
                    raise
                found[kind] = None
        return found


def _dependent(kind: str, item: dict[str, Any]) -> Dependent:
    attributes = item.get("attributes") or {}
    repo = attributes.get("vcs-repo") or {}
    if not isinstance(repo, dict):
        repo = {}
    project = ((item.get("relationships") or {}).get("project") or {}).get("data") or {}
    return Dependent(
        kind=kind,
        id=str(item.get("id") or ""),
        name=str(attributes.get("name") or item.get("id") or ""),
        identifier=repo.get("identifier") or repo.get("display-identifier"),
        branch=repo.get("branch") or None,
        oauth_token_id=repo.get("oauth-token-id"),
        project_id=project.get("id") if isinstance(project, dict) else None,
        provider=attributes.get("provider") if kind == "registry module" else None,
    )
