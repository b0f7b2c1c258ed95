"""The keys Bitbucket Data Center needs: a consumer key, the application link's RSA key pair,
and the SSH key Terraform clones with. The private halves go to Terraform and nowhere else:
the caller holds them only for the call that sends them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# 3072 bits: NIST's choice past 2030; Bitbucket and Terraform accept any size from 2048.
KEY_BITS = 3072


@dataclass(frozen=True)
class KeyPair:
    """A private key as PEM text (to Terraform only) and its public half (to people)."""

    private_pem: str
    public: str

    def __repr__(self) -> str:  # never the private half, whatever logs the object
        return f"KeyPair(public={self.public[:40]!r}…)"


def consumer_key(organization: str) -> str:
    """The application link's consumer key: any string both sides agree on; the
    organization's name makes it recognisable in Bitbucket's list."""
    return f"terraform-{organization.lower()}-{secrets.token_hex(4)}"


def application_link_keys() -> KeyPair:
    """The RSA pair of the application link: Terraform signs with the private key, and the
    administrator pastes the public key (PEM, SubjectPublicKeyInfo) into Bitbucket."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    return KeyPair(
        private_pem=_private_pem(key),
        public=key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
    )


def ssh_keys(comment: str) -> KeyPair:
    """An SSH key pair without a passphrase (Terraform's `ssh-key` takes a PEM RSA private
    key) and its OpenSSH public line for the service user's SSH keys in Bitbucket."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return KeyPair(
        private_pem=_private_pem(key),
        public=f"{public.decode()} {comment}",
    )


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    """PEM without a passphrase, as Terraform takes both the link's key and the SSH key."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
