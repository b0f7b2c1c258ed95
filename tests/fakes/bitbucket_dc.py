"""A fake Bitbucket Data Center on loopback: what it says it is (application properties,
answered without credentials), and the application links an administrator created, which
the fake Terraform consults when the service user authorizes."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from tests.fakes.base import FakeServer, Reply, Request


@dataclass
class FakeApplicationLink:
    consumer_key: str
    consumer_name: str
    public_key: str
    application_url: str


class FakeBitbucketDC(FakeServer):
    def __init__(self, version: str = "8.19.1") -> None:
        super().__init__()
        self.version = version
        self.display_name = "Bitbucket"
        self.links: dict[str, FakeApplicationLink] = {}  # consumer key -> link
        self.ssh_keys: dict[str, list[str]] = {}  # username -> public keys
        self.links_lock = threading.Lock()
        self.route("GET", r"/rest/api/1.0/application-properties", self._properties)

    def _properties(self, request: Request, match: re.Match[str]) -> Reply:
        return Reply(
            200,
            {
                "version": self.version,
                "buildNumber": "".join(p.zfill(3) for p in self.version.split(".")),
                "buildDate": "1764547200000",
                "displayName": self.display_name,
            },
        )

    # What a Bitbucket administrator does by hand (there is no public API for it).

    def create_application_link(
        self, *, consumer_key: str, consumer_name: str, public_key: str, application_url: str
    ) -> None:
        with self.links_lock:
            self.links[consumer_key] = FakeApplicationLink(
                consumer_key, consumer_name, public_key.strip(), application_url
            )

    def link_for(self, consumer_key: str) -> FakeApplicationLink | None:
        with self.links_lock:
            return self.links.get(consumer_key)
