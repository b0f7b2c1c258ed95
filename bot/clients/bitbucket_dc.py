"""Bitbucket Data Center, as far as the bot talks to it: is the address a Bitbucket Data
Center, and which version? Only addresses in BITBUCKET_DC_URL are ever asked (the caller
checks), without credentials, once, with no redirects followed."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import httpx

from bot.clients.http import tls

PROPERTIES = "/rest/api/1.0/application-properties"
TIMEOUT = httpx.Timeout(5.0, connect=3.0)
# Bitbucket Server became Data Center at 7.0 (the application-link flow Terraform uses is
# the same from 7.0 on); older ones are Bitbucket Server, which HCP Terraform no longer takes.
OLDEST_MAJOR = 7


@dataclass(frozen=True)
class Instance:
    version: str
    display_name: str


class NotDataCenter(Exception):
    """The address is not a Bitbucket Data Center the bot can connect; said to the person
    on the address field, in words (never what the address answered)."""


def application_properties(base_url: str, *, timeout: httpx.Timeout = TIMEOUT) -> Instance:
    """Ask the instance what it is; NotDataCenter, in plain words, when it is not one."""
    url = base_url.rstrip("/") + PROPERTIES
    try:
        with httpx.Client(timeout=timeout, verify=tls(), follow_redirects=False) as http:
            response = http.get(url, headers={"Accept": "application/json"})
    except httpx.ConnectError as error:
        if "[SSL" in str(error) or isinstance(error.__cause__, ssl.SSLError):
            raise NotDataCenter(
                f"{base_url} did not offer a certificate this bot trusts (a TLS error). Use "
                "its https address with a certificate from a trusted authority, or add the "
                "company's authority to the bot's trust store (SSL_CERT_FILE)."
            ) from None
        raise NotDataCenter(
            f"The bot cannot reach {base_url} (connection refused or unknown host). Check the "
            "address, and that the bot's network may reach it."
        ) from None
    except httpx.TimeoutException:
        raise NotDataCenter(
            f"{base_url} did not answer within {timeout.read:g} seconds. Check the address, "
            "and that the bot's network may reach it."
        ) from None
    except httpx.HTTPError:
        raise NotDataCenter(f"{base_url} did not answer as a web server does.") from None
    not_bitbucket = NotDataCenter(
        f"{base_url} answered, but not as Bitbucket Data Center does ({PROPERTIES} gave no "
        "version). Check the address: it is the one you open Bitbucket at, without a path."
    )
    if response.status_code != 200:
        raise not_bitbucket
    try:
        body = response.json()
    except ValueError:
        raise not_bitbucket from None
    version = str(body.get("version") or "") if isinstance(body, dict) else ""
    name = str(body.get("displayName") or "") if isinstance(body, dict) else ""
    if not version or "bitbucket" not in name.lower():
        raise not_bitbucket
    major = version.split(".", 1)[0]
    if major.isdigit() and int(major) < OLDEST_MAJOR:
        raise NotDataCenter(
            f"{base_url} is Bitbucket Server {version[:20]}: Terraform connects Bitbucket Data "
            f"Center {OLDEST_MAJOR}.0 or newer. Upgrade it first."
        )
    return Instance(version=version[:40], display_name=name[:80])
