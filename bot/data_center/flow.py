"""Bitbucket Data Center, the bot's side: which addresses people may connect, and whether
one is a Bitbucket Data Center, checked before anything is created.

A form field must never become a way to make the bot call inside the company's network:
an address is asked only once it matches one of BITBUCKET_DC_URL exactly (scheme, host,
port and path, without a trailing slash)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.clients.bitbucket_dc import Instance, NotDataCenter, application_properties
from bot.problems import Problem

FIELD = "data_center_url"


@dataclass(frozen=True)
class CheckedAddress:
    url: str
    version: str


def normalized(url: str) -> str:
    """The address as BITBUCKET_DC_URL lists it: scheme and host in lower case, no slash at
    the end; what people paste from the address bar compares equal."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"


class DataCenterAddresses:
    """The Data Center addresses of this installation, and the check of one of them."""

    def __init__(
        self,
        allowed: tuple[str, ...],
        ask: Callable[[str], Instance] = application_properties,
    ) -> None:
        self.allowed = tuple(normalized(url) for url in allowed)
        self._ask = ask

    @property
    def offered(self) -> bool:
        """Data Center is offered in the form only when some address is configured."""
        return bool(self.allowed)

    @property
    def preset(self) -> str:
        return self.allowed[0] if self.allowed else ""

    def check(self, url: str) -> CheckedAddress:
        """The address, if it is allowed and answers as Bitbucket Data Center; else a
        Problem on the address field, in plain words."""
        given = normalized(url) if url.strip() else ""
        if not self.allowed:
            raise Problem(
                "This bot is not set up for Bitbucket Data Center (BITBUCKET_DC_URL is empty).",
                field=FIELD,
            )
        if given not in self.allowed:
            listed = ", ".join(self.allowed[:5])
            raise Problem(
                "The bot connects only the Bitbucket Data Center addresses its operators "
                f"listed: {listed}. Pick one of these, or ask them to add yours to "
                "BITBUCKET_DC_URL.",
                field=FIELD,
            )
        try:
            instance = self._ask(given)
        except NotDataCenter as refusal:
            raise Problem(str(refusal), field=FIELD) from None
        return CheckedAddress(url=given, version=instance.version)
