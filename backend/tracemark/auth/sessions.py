"""Sessions after Sign-In with Ethereum: opaque bearer tokens of which only the SHA-256 is stored, and the roles.

A session token is 32 random bytes (URL-safe base64). The store keeps `sha256(token)`: whoever reads the database
cannot sign in as anyone. A session names the address that signed in and the chain it signed in for; it ends at
its expiry or when revoked (logout).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from tracemark.auth.siwe import SignInPolicy
from tracemark.config import Settings

TOKEN_BYTES = 32
COOKIE_NAME = "tracemark_session"


class Role(StrEnum):
    """What a signed-in address may do."""

    HOLDER = "holder"  # any signed-in wallet: its own originals and registrations
    CASEWORKER = "caseworker"  # platform staff: the review queue


def new_token() -> tuple[str, str]:
    """A new session token and the hash that is stored."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a session token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def public_url(settings: Settings) -> str:
    """The URL users reach the API at (no trailing slash)."""
    return (settings.public_url or f"http://{settings.api_host}:{settings.api_port}").rstrip("/")


def sign_in_policy(settings: Settings, chain_id: int) -> SignInPolicy:
    """What a sign-in message must name: the public URL's host as domain, the public URL as URI, the chain."""
    url = public_url(settings)
    return SignInPolicy(
        domain=urlsplit(url).netloc,
        uri=url,
        chain_id=chain_id,
        nonce_ttl=timedelta(seconds=settings.auth_nonce_ttl_s),
        session_ttl=timedelta(seconds=settings.auth_session_ttl_s),
    )


def roles_of(address: str, caseworkers: Iterable[str]) -> frozenset[Role]:
    """The roles of a signed-in address: every wallet is a holder; listed addresses are caseworkers too."""
    roles = {Role.HOLDER}
    if address.lower() in {c.strip().lower() for c in caseworkers}:
        roles.add(Role.CASEWORKER)
    return frozenset(roles)
