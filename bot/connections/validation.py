"""Checks of what users type, each returning the cleaned value or a message saying how to fix it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase

_ORGANIZATION = re.compile(r"[A-Za-z0-9_-]+")
_BITBUCKET_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_WORKSPACE_ADDRESS = re.compile(r"^(https?://)?(www\.)?bitbucket\.org/", re.IGNORECASE)
_CREDENTIAL = re.compile(r"[\x21-\x7e]+")  # printable ASCII without spaces

ORGANIZATION_MAX = 255
BITBUCKET_NAME_MAX = 100
KEY_MAX = 128
SECRET_MAX = 128


@dataclass(frozen=True)
class Valid:
    value: str


@dataclass(frozen=True)
class Invalid:
    message: str


Checked = Valid | Invalid


def organization(raw: str | None, host: str = "app.terraform.io") -> Checked:
    """A TFE organization name: letters, digits, - and _ only; `host` is the TFE address
    the hint points at."""
    value = (raw or "").strip()
    if not value:
        return Invalid("Enter the name of the Terraform organization.")
    if len(value) > ORGANIZATION_MAX:
        return Invalid(f"An organization name is at most {ORGANIZATION_MAX} characters.")
    if not _ORGANIZATION.fullmatch(value):
        return Invalid(
            "Organization names use only letters, digits, - and _ "
            f"(copy it from the address bar: {host}/app/<organization>)."
        )
    return Valid(value)


def bitbucket_username(raw: str | None) -> Checked:
    """A Bitbucket username, with or without a leading @."""
    value = (raw or "").strip().removeprefix("@")
    if not value:
        return Invalid("Enter the Bitbucket username of the service account.")
    if len(value) > BITBUCKET_NAME_MAX or not _BITBUCKET_NAME.fullmatch(value):
        return Invalid(
            "A Bitbucket username uses only letters, digits, ., - and _ "
            "(see Personal settings → Account settings in Bitbucket)."
        )
    return Valid(value)


def bitbucket_workspace(raw: str | None) -> Checked:
    """The workspace ID (the part after bitbucket.org/); a pasted workspace address is
    taken apart for it."""
    value = _WORKSPACE_ADDRESS.sub("", (raw or "").strip()).strip("/")
    if not value:
        return Invalid(
            "Enter the Bitbucket workspace: the part after bitbucket.org/ in its address "
            "(acme-team for bitbucket.org/acme-team). OAuth consumers live in its settings."
        )
    if len(value) > BITBUCKET_NAME_MAX or not _BITBUCKET_NAME.fullmatch(value):
        return Invalid(
            "A workspace ID uses only letters, digits, ., - and _ "
            "(it is the part after bitbucket.org/ in the workspace's address)."
        )
    return Valid(value.lower())


_PROJECT = re.compile(r"[A-Za-z0-9 _.-]+")
PROJECTS_MAX = 20
PROJECT_NAME_MAX = 40


def project_names(raw: str | None) -> Invalid | list[str]:
    """Terraform project names, comma-separated (empty: the whole organization)."""
    names = [name.strip() for name in (raw or "").split(",") if name.strip()]
    if len(names) > PROJECTS_MAX:
        return Invalid(f"Name at most {PROJECTS_MAX} projects (or none, for all of them).")
    for name in names:
        if len(name) > PROJECT_NAME_MAX or not _PROJECT.fullmatch(name):
            return Invalid(
                "Project names use letters, digits, spaces, ., - and _; separate them with "
                "commas (as in Terraform's Projects list)."
            )
    return list(dict.fromkeys(names))


def consumer_key(raw: str | None) -> Checked:
    """The OAuth consumer's Key, as Bitbucket shows it."""
    return _credential(raw, "Key", KEY_MAX)


def consumer_secret(raw: str | None) -> Checked:
    """The OAuth consumer's Secret; the message never repeats what was typed."""
    return _credential(raw, "Secret", SECRET_MAX)


def _credential(raw: str | None, label: str, limit: int) -> Checked:
    value = (raw or "").strip()
    if not value:
        return Invalid(f"Paste the consumer's {label} from Bitbucket.")
    if len(value) > limit or not _CREDENTIAL.fullmatch(value):
        return Invalid(
            f"That does not look like a {label}: copy it again from Bitbucket "
            "(OAuth consumers → click the consumer's name), without spaces."
        )
    return Valid(value)


def organization_allowed(name: str, patterns: tuple[str, ...]) -> bool:
    """Whether ORGANIZATIONS lets the bot touch this organization (all, when empty).

    Names and `*` globs, compared without regard to case, as TFE compares names.
    """
    return not patterns or any(fnmatchcase(name.lower(), p.lower()) for p in patterns)
