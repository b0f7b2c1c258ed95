"""Reading what a user typed into a modal, and checking it before anything else happens."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from bot.connections import validation
from bot.connections.model import AccountKind, Bitbucket
from bot.slack import ids
from bot.slack.blocks.kit import RequestForm

# Connection ids travel in button values and private_metadata; anything that is not a
# short decimal number is treated as "no such connection", never parsed loosely.
_CONNECTION_ID = re.compile(r"[0-9]{1,9}")


def connection_id(raw: object) -> int | None:
    """A connection id from a button value or metadata field, or None if it is not one."""
    if isinstance(raw, str) and _CONNECTION_ID.fullmatch(raw):
        return int(raw)
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 < raw < 10**9:
        return raw
    return None


def value(body: dict[str, Any], block: str) -> dict[str, Any]:
    """The state of the input in `block` (every input's action_id is ids.VALUE)."""
    state = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    found = (state.get(block) or {}).get(ids.VALUE)
    return found if isinstance(found, dict) else {}


def ticked(body: dict[str, Any], block: str) -> bool:
    return bool(value(body, block).get("selected_options"))


def metadata(body: dict[str, Any]) -> dict[str, Any]:
    """The view's private_metadata as a dict ({} when absent or not ours)."""
    try:
        data = json.loads((body.get("view") or {}).get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def read_request_form(body: dict[str, Any]) -> RequestForm:
    kind_option = value(body, ids.ACCOUNT_KIND).get("selected_option") or {}
    try:
        kind = AccountKind(str(kind_option.get("value")))
    except ValueError:
        kind = AccountKind.SERVICE_ACCOUNT
    bitbucket_option = value(body, ids.BITBUCKET).get("selected_option") or {}
    try:
        bitbucket = Bitbucket(str(bitbucket_option.get("value")))
    except ValueError:
        bitbucket = Bitbucket.CLOUD
    return RequestForm(
        channel_id=str(metadata(body).get("channel") or ""),
        bitbucket=bitbucket,
        data_center_url=str(value(body, ids.DATA_CENTER_URL).get("value") or ""),
        organization=value(body, ids.ORGANIZATION).get("value") or "",
        account_kind=kind,
        username=value(body, ids.SERVICE_USERNAME).get("value") or "",
        acknowledged=ticked(body, ids.OWNERSHIP_ACK),
        workspace=value(body, ids.WORKSPACE).get("value") or "",
        projects=str(value(body, ids.PROJECTS).get("value") or ""),
        add_another=ticked(body, ids.ADD_ANOTHER),
        reason=str(value(body, ids.REASON).get("value") or ""),
        ask_reason=bool(metadata(body).get("reason")),
    )


def validate_request(form: RequestForm) -> tuple[dict[str, str], dict[str, str | None]]:
    """Field errors, and the cleaned values when there are none."""
    errors: dict[str, str] = {}
    clean: dict[str, str | None] = {}
    org = validation.organization(form.organization, form.tfe_host)
    if isinstance(org, validation.Invalid):
        errors[ids.ORGANIZATION] = org.message
    else:
        clean["organization"] = org.value
    if form.account_kind == AccountKind.SERVICE_ACCOUNT:
        username = validation.bitbucket_username(form.username)
        if isinstance(username, validation.Invalid):
            errors[ids.SERVICE_USERNAME] = username.message
        else:
            clean["username"] = username.value
    elif not form.acknowledged:
        errors[ids.OWNERSHIP_ACK] = (
            "Tick this to use your own account: the connection will be recorded as yours, "
            "and it stops working if you leave. Or choose a shared service account."
        )
    if form.ask_reason:
        reason = form.reason.strip()
        if not reason:
            errors[ids.REASON] = (
                "Say in a sentence why the connection is needed; an approver reads it."
            )
        else:
            clean["reason"] = reason
    if form.bitbucket == Bitbucket.DATA_CENTER:
        # Whether the address may be asked, and what it is, is checked after the ack.
        if not form.offer_data_center:
            errors[ids.BITBUCKET] = (
                "This bot is not set up for Bitbucket Data Center; choose Bitbucket Cloud."
            )
        elif not form.data_center_url.strip():
            errors[ids.DATA_CENTER_URL] = "Enter the Bitbucket Data Center's address."
        clean["workspace"] = None  # Data Center has projects, not workspaces
    else:
        workspace = validation.bitbucket_workspace(form.workspace)
        if isinstance(workspace, validation.Invalid):
            errors[ids.WORKSPACE] = workspace.message
        else:
            clean["workspace"] = workspace.value
    projects = validation.project_names(form.projects)
    if isinstance(projects, validation.Invalid):
        errors[ids.PROJECTS] = projects.message
    else:
        clean["projects"] = ", ".join(projects) or None
    return errors, clean


@dataclass(frozen=True)
class KeyAndSecret:
    """A consumer's key and secret as typed into Connect's or Rotate's form, checked."""

    key: str
    secret: str = field(repr=False)  # goes to Terraform and nowhere else


def read_key_and_secret(body: dict[str, Any]) -> KeyAndSecret | dict[str, str]:
    """The form's key and secret, read once and checked once: the value, or every field's
    problem keyed by its block (as Slack's `errors` response wants them)."""
    key = validation.consumer_key(value(body, ids.KEY).get("value"))
    secret = validation.consumer_secret(value(body, ids.SECRET).get("value"))
    if isinstance(key, validation.Valid) and isinstance(secret, validation.Valid):
        return KeyAndSecret(key.value, secret.value)
    return {
        block: checked.message
        for block, checked in ((ids.KEY, key), (ids.SECRET, secret))
        if isinstance(checked, validation.Invalid)
    }
