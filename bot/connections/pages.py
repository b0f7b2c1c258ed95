"""What the owner is shown and where they go: the consumer's values, Bitbucket's pages, the
authorize link, and the name the OAuth client gets. Addresses only; no Slack, no HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from bot.connections.model import AccountKind, Connection

PLACEHOLDER_CALLBACK = "https://example.com/replace-this-later"
# The consumer's permissions TFE needs, as Bitbucket's form labels them.
PERMISSIONS = (
    ("Account", "Write"),
    ("Repositories", "Admin"),
    ("Pull requests", "Write"),
    ("Webhooks", "Read and write"),
)


@dataclass(frozen=True)
class ConsumerValues:
    """What the owner types into Bitbucket's "Add OAuth consumer" form."""

    name: str
    callback_url: str
    url: str


@dataclass(frozen=True)
class BitbucketPages:
    """Bitbucket's "Add OAuth consumer" page and the list of consumers."""

    add_consumer: str
    consumers: str


@dataclass(frozen=True)
class ApplicationLink:
    """What a Bitbucket Data Center administrator types into "Create link", in order."""

    application_url: str
    consumer_key: str
    consumer_name: str
    public_key: str
    # Administration → Application Links, where "Create link" is.
    page: str


def client_name(connection: Connection, requester_name: str) -> str:
    """Says which Slack request made the client, so people (and the bot) can find it."""
    which = connection.which_bitbucket.words
    return f"{which} (via Slack, requested by @{requester_name}, connection #{connection.id})"


@dataclass(frozen=True)
class Pages:
    """Builds the addresses of one installation (its TFE and Bitbucket) for a connection."""

    tfe_url: str
    bitbucket_url: str

    @property
    def tfe_host(self) -> str:
        """The TFE address as people see it in the address bar: app.terraform.io, or the
        company's own Terraform Enterprise host."""
        return urlsplit(self.tfe_url).netloc or self.tfe_url

    def vcs_providers(self, organization: str) -> str:
        """The organization's VCS providers settings page in Terraform, where a client is
        re-authorized."""
        return f"{self.tfe_url}/app/{quote(organization, safe='')}/settings/version-control"

    def callback_url(self, connection: Connection) -> str:
        """The consumer's callback URL as shown in step 1: TFE's real one, known from the
        uuid the bot chose, or a placeholder for connections from before there was one."""
        if connection.client_uuid is None:
            return PLACEHOLDER_CALLBACK
        return f"{self.tfe_url}/auth/{connection.client_uuid}/callback"

    def consumer_values(self, connection: Connection) -> ConsumerValues:
        return ConsumerValues(
            name=f"Terraform Enterprise ({connection.organization})",
            callback_url=self.callback_url(connection),
            url=self.tfe_url,
        )

    def bitbucket(self, connection: Connection) -> BitbucketPages:
        """Where consumers live for this connection: the workspace's settings when known."""
        base = self.bitbucket_url
        if connection.bitbucket_workspace:
            root = f"{base}/{connection.bitbucket_workspace}/workspace/settings"
            return BitbucketPages(f"{root}/oauth-consumers/new", f"{root}/api")
        if connection.account_kind == AccountKind.SERVICE_ACCOUNT and connection.bitbucket_username:
            root = f"{base}/account/user/{connection.bitbucket_username}"
            return BitbucketPages(f"{root}/oauth-consumers/new", f"{root}/api")
        return BitbucketPages(f"{base}/account/workspaces/", f"{base}/account/workspaces/")

    def application_link(self, connection: Connection) -> ApplicationLink:
        """The application link's values for a Data Center connection whose client exists.
        The Application URL names the organization (<TFE_URL>/app/<ORG>), so one Bitbucket
        can link several organizations of one Terraform."""
        product = "HCP Terraform" if self.tfe_host == "app.terraform.io" else "Terraform"
        return ApplicationLink(
            application_url=f"{self.tfe_url}/app/{quote(connection.organization, safe='')}",
            consumer_key=connection.consumer_key or "",
            consumer_name=f"{product} ({connection.organization})",
            public_key=connection.link_public_key or "",
            page=f"{connection.data_center_url}/plugins/servlet/applinks/listApplicationLinks",
        )

    def ssh_keys_page(self, connection: Connection) -> str:
        """The Data Center page where a user adds SSH keys to their own account."""
        return f"{connection.data_center_url}/plugins/servlet/ssh/account/keys"

    def authorize_link(self, connection: Connection) -> str | None:
        """TFE's "Connect organization" address, which sends the browser to Bitbucket."""
        if not connection.connect_path:
            return None
        return self.tfe_url + connection.connect_path
