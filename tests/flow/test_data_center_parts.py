"""Bitbucket Data Center, part by part against the fakes over HTTP: the address check
(only listed addresses are ever asked; what is not a Bitbucket Data Center is said in plain
words on the field), the keys, the Data Center client in Terraform, the application link
the authorization needs, and the token's SSH key. The private keys reach Terraform only."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization

from bot.clients.tfe import BITBUCKET_DATA_CENTER, TFEClient, TFEError
from bot.data_center import keys
from bot.data_center.flow import FIELD, DataCenterAddresses
from bot.problems import Problem
from tests.fakes import tfe as fake_tfe_module
from tests.fakes.bitbucket_dc import FakeBitbucketDC
from tests.fakes.slack import FakeSlack
from tests.fakes.tfe import AuthorizationFailed, FakeTFE
from tests.harness import free_port

ORG = "acme"


@pytest.fixture
def data_center() -> Iterator[FakeBitbucketDC]:
    fake = FakeBitbucketDC()
    fake.start()
    yield fake
    fake.stop()


def refusal(addresses: DataCenterAddresses, url: str) -> str:
    with pytest.raises(Problem) as raised:
        addresses.check(url)
    assert raised.value.field == FIELD
    return raised.value.message


def test_a_listed_data_center_is_checked_and_its_version_read(data_center: FakeBitbucketDC) -> None:
    addresses = DataCenterAddresses((data_center.url + "/",))
    assert addresses.offered and addresses.preset == data_center.url
    # Pasted from the address bar, with a slash and upper case: the same address.
    checked = addresses.check(data_center.url.upper().replace("HTTP://", "http://") + "/")
    assert (checked.url, checked.version) == (data_center.url, "8.19.1")
    assert len(data_center.requests_to("GET", r"/rest/api/1.0/application-properties")) == 1


def test_an_address_not_listed_is_refused_without_a_request(data_center: FakeBitbucketDC) -> None:
    addresses = DataCenterAddresses((data_center.url,))
    for typed in (
        "http://169.254.169.254/latest/meta-data",  # what a form field must never reach
        data_center.url + "/rest/api/1.0/application-properties",
        data_center.url.replace("127.0.0.1", "localhost"),
    ):
        said = refusal(addresses, typed)
        assert "only the Bitbucket Data Center addresses its operators listed" in said
        assert "169.254" not in said.split("listed:")[0]
    assert data_center.requests_to("GET", r".*") == []
    assert "not set up for Bitbucket Data Center" in refusal(DataCenterAddresses(()), "x")


def test_what_is_not_a_data_center_is_said_in_plain_words(
    data_center: FakeBitbucketDC, fake_slack: FakeSlack
) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"
    tls_to_plain = data_center.url.replace("http://", "https://")
    addresses = DataCenterAddresses((fake_slack.url, unreachable, tls_to_plain, data_center.url))
    assert "not as Bitbucket Data Center does" in refusal(addresses, fake_slack.url)
    assert "cannot reach" in refusal(addresses, unreachable)
    assert "a TLS error" in refusal(addresses, tls_to_plain)
    data_center.display_name = "Jira"
    assert "not as Bitbucket Data Center does" in refusal(addresses, data_center.url)
    data_center.display_name, data_center.version = "Bitbucket", "6.10.3"
    said = refusal(addresses, data_center.url)
    assert "Bitbucket Server 6.10.3" in said and "7.0 or newer" in said


def test_keys_pair_up_and_never_show_their_private_half() -> None:
    pair = keys.application_link_keys()
    private = serialization.load_pem_private_key(pair.private_pem.encode(), None)
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public.decode() == pair.public
    assert "PRIVATE" not in repr(pair) and pair.private_pem[40:80] not in repr(pair)
    ssh = keys.ssh_keys("terraform acme")
    assert ssh.public.startswith("ssh-rsa ") and ssh.public.endswith(" terraform acme")
    assert keys.consumer_key("Acme").startswith("terraform-acme-")
    assert keys.consumer_key("acme") != keys.consumer_key("acme")


def test_the_client_the_link_the_authorization_and_the_ssh_key(
    fake_tfe: FakeTFE, data_center: FakeBitbucketDC, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_tfe.data_center = data_center
    fake_tfe.add_organization(ORG)
    tfe = TFEClient(fake_tfe.url, fake_tfe_module.TOKEN)
    link_keys = keys.application_link_keys()
    key = keys.consumer_key(ORG)

    # A public key that is not the private key's half is refused, and nothing is made.
    other = keys.application_link_keys()
    with pytest.raises(TFEError) as refused:
        tfe.create_oauth_client(
            ORG, name="dc", key=key, secret=link_keys.private_pem,
            http_url=data_center.url, api_url=data_center.url,
            provider=BITBUCKET_DATA_CENTER, rsa_public_key=other.public,
        )  # fmt: skip
    assert refused.value.status == 422 and not fake_tfe.clients
    assert link_keys.private_pem not in str(refused.value)

    client = tfe.create_oauth_client(
        ORG, name="dc", key=key, secret=link_keys.private_pem,
        http_url=data_center.url, api_url=data_center.url,
        provider=BITBUCKET_DATA_CENTER, rsa_public_key=link_keys.public,
    )  # fmt: skip
    assert client.service_provider == BITBUCKET_DATA_CENTER
    assert (client.key, client.rsa_public_key) == (key, link_keys.public)

    # No application link yet, or one with another public key: the authorization fails as
    # an OAuth 1.0 signature would, and Terraform holds no token.
    with pytest.raises(AuthorizationFailed):
        fake_tfe.authorize(client.id)
    data_center.create_application_link(
        consumer_key=key, consumer_name="HCP Terraform (acme)",
        public_key=other.public, application_url=f"{fake_tfe.url}/app/{ORG}",
    )  # fmt: skip
    with pytest.raises(AuthorizationFailed):
        fake_tfe.authorize(client.id)
    assert tfe.list_oauth_tokens(client.id) == []
    data_center.create_application_link(
        consumer_key=key, consumer_name="HCP Terraform (acme)",
        public_key=link_keys.public, application_url=f"{fake_tfe.url}/app/{ORG}",
    )  # fmt: skip
    token_id = fake_tfe.authorize(client.id)

    # The token gets the SSH key Terraform clones with.
    ssh = keys.ssh_keys("terraform acme")
    assert tfe.list_oauth_tokens(client.id)[0].has_ssh_key is False
    assert tfe.set_token_ssh_key(token_id, ssh.private_pem) is True
    assert tfe.list_oauth_tokens(client.id)[0].has_ssh_key is True
    assert fake_tfe.ssh_keys[token_id] == ssh.private_pem
    with pytest.raises(TFEError) as bad_key:
        tfe.set_token_ssh_key(token_id, "-----BEGIN RSA PRIVATE KEY-----\nnot a key\n")
    assert bad_key.value.status == 422

    # Neither private key was logged, by the bot or by httpx.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for private in (link_keys.private_pem, ssh.private_pem):
        assert private.splitlines()[1] not in logged
    tfe.close()
