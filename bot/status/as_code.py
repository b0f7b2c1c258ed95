"""A connection as Terraform code, for teams that manage Terraform with Terraform.

The tfe provider cannot adopt a bot-made client: `tfe_oauth_client` has no importer, and the
provider cannot create a Bitbucket Cloud client at all (its create needs an OAuth token
string for every provider but Bitbucket Server and Data Center). So the code reads the
client with `data "tfe_oauth_client"` by its id and uses its `oauth_token_id` where a
workspace, a policy set or a registry module names its repository.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.connections.model import Connection, Dependent

_NAME = re.compile(r"[^a-z0-9_]+")


def hcl_string(value: str) -> str:
    """A quoted HCL string: quotes and backslashes escaped, and no template sequence (`${`,
    `%{`) left to be read as one."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped.replace("${", "$${").replace("%{", "%%{") + '"'


def _label(name: str, fallback: str) -> str:
    """A resource label from a name (letters, digits and underscores, not starting with a
    digit)."""
    label = _NAME.sub("_", name.lower()).strip("_") or fallback
    return label if not label[0].isdigit() else f"{fallback}_{label}"


def as_terraform(connection: Connection, used_by: Sequence[Dependent] = ()) -> str:
    """The HCL that reads this connection's client and points a workspace, a policy set
    and a registry module at it (named after what uses it today, where the bot knows)."""
    assert connection.oauth_client_id
    first: dict[str, Dependent] = {}
    for dependent in used_by:
        first.setdefault(dependent.kind, dependent)
    org = hcl_string(connection.organization)
    workspace, policies, module = (
        first.get(k) for k in ("workspace", "policy set", "registry module")
    )
    return (
        "\n\n".join(
            [
                f"# Connection #{connection.id} of {connection.organization}, made by "
                "connect-bitbucket.\n# Read, not imported: tfe_oauth_client has no importer and "
                "cannot create a\n# Bitbucket Cloud client, so the bot keeps the client and this "
                "code uses its token.",
                'data "tfe_oauth_client" "bitbucket" {\n'
                f"  oauth_client_id = {hcl_string(connection.oauth_client_id)}\n}}",
                _resource(
                    "tfe_workspace",
                    workspace,
                    "app",
                    [
                        f"name         = {hcl_string(workspace.name if workspace else 'app')}",
                        _org(org),
                    ],
                    [("identifier", _repo(workspace, "your-workspace/your-repo"))]
                    + ([("branch", workspace.branch)] if workspace and workspace.branch else []),
                ),
                _resource(
                    "tfe_policy_set",
                    policies,
                    "policies",
                    [
                        f"name         = {hcl_string(policies.name if policies else 'policies')}",
                        _org(org),
                    ],
                    [
                        ("identifier", _repo(policies, "your-workspace/policies")),
                        ("branch", (policies.branch if policies else None) or "main"),
                    ],
                ),
                _resource(
                    "tfe_registry_module",
                    module,
                    "network",
                    [_org(org)],
                    [
                        (
                            "display_identifier",
                            _repo(module, "your-workspace/terraform-aws-network"),
                        ),
                        ("identifier", _repo(module, "your-workspace/terraform-aws-network")),
                    ],
                ),
            ]
        )
        + "\n"
    )


def _org(quoted: str) -> str:
    return f"organization = {quoted}"


def _repo(dependent: Dependent | None, example: str) -> str:
    return (dependent.identifier if dependent else None) or example


def _resource(
    kind: str,
    dependent: Dependent | None,
    example: str,
    attributes: list[str],
    repo: list[tuple[str, str]],
) -> str:
    """One resource whose vcs_repo names the connection's token."""
    label = hcl_string(_label(dependent.name if dependent else example, kind.removeprefix("tfe_")))
    width = max(len(name) for name, _ in [*repo, ("oauth_token_id", "")])
    lines = [f"    {name.ljust(width)} = {hcl_string(value)}" for name, value in repo]
    lines.append(
        f"    {'oauth_token_id'.ljust(width)} = data.tfe_oauth_client.bitbucket.oauth_token_id"
    )
    body = "\n".join(f"  {line}" for line in attributes)
    return f'resource "{kind}" {label} {{\n{body}\n  vcs_repo {{\n' + "\n".join(lines) + "\n  }\n}"
