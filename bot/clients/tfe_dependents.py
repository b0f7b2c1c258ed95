"""What in Terraform uses an OAuth client's tokens: workspaces, policy sets and registry
modules whose `vcs-repo.oauth-token-id` names one (TFEClient inherits these calls)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
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


# What lists dependents, by kind: the organization's list path.
DEPENDENT_LISTS = {
    "workspace": "workspaces",
    "policy set": "policy-sets",
    "registry module": "registry-modules",
}


class DependentLists:
    """The list calls; the client supplies `_pages`."""

    def _pages(self, path: str, *, what: str) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

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
    return Dependent(
        kind=kind,
        id=str(item.get("id") or ""),
        name=str(attributes.get("name") or item.get("id") or ""),
        identifier=repo.get("identifier") or repo.get("display-identifier"),
        branch=repo.get("branch") or None,
        oauth_token_id=repo.get("oauth-token-id"),
    )
