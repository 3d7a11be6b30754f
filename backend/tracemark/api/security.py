"""Who is calling: the session dependency every non-public route uses, and the caseworker role.

A client proves its session with `Authorization: Bearer <token>` or the `tracemark_session` cookie (HttpOnly,
SameSite=Strict, Secure behind https). A cookie-authenticated request that changes state and carries an `Origin`
header must come from the service's own origin. Everything else answers 401 (no, expired, revoked or foreign
session) or 403 (signed in, but not allowed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, status
from web3 import Web3

from tracemark.api.deps import ChainIdDep, DatabaseDep, SettingsDep
from tracemark.auth.sessions import COOKIE_NAME, Role, public_url, roles_of, token_hash
from tracemark.store.registration_repository import active_session

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class SignedIn:
    """The caller of a request: the address that signed in, for which chain, until when, with which roles."""

    address: str  # checksum
    chain_id: int
    expires_at: datetime
    roles: frozenset[Role]
    token_hash: str

    @property
    def key(self) -> str:
        """The address as the store keeps it (lowercase)."""
        return self.address.lower()

    @property
    def is_caseworker(self) -> bool:
        """Whether the caller may work the review queue."""
        return Role.CASEWORKER in self.roles


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def session_token(request: Request) -> tuple[str | None, bool]:
    """The session token of a request and whether it came in a cookie."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("the Authorization header must be `Bearer <session token>`")
        return token.strip(), False
    cookie = request.cookies.get(COOKIE_NAME)
    return (cookie, True) if cookie else (None, False)


def current_session(request: Request, database: DatabaseDep, settings: SettingsDep, chain: ChainIdDep) -> SignedIn:
    """The signed-in caller.

    Raises:
        HTTPException: 401 without a valid session, or with one for another chain; 403 for a cross-site request.
    """
    token, via_cookie = session_token(request)
    if token is None:
        raise _unauthorized("sign in first (POST /v1/auth/nonce, then /v1/auth/login)")
    if len(token) > 128:
        raise _unauthorized("the session token is not valid")
    if via_cookie and request.method not in _SAFE_METHODS:
        origin = request.headers.get("origin")
        own = urlsplit(public_url(settings))
        if origin is not None and origin.rstrip("/") != f"{own.scheme}://{own.netloc}":
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="cross-site request refused")
    hashed = token_hash(token)
    with database.read() as session:
        row = active_session(session, hashed, datetime.now(UTC))
        if row is None:
            raise _unauthorized("the session is unknown, expired or ended; sign in again")
        address, chain_id, expires_at = row.address, row.chain_id, row.expires_at
    if chain_id != chain():
        raise _unauthorized(f"the session was signed in for chain {chain_id}, not the chain this service serves")
    return SignedIn(
        address=Web3.to_checksum_address(address), chain_id=chain_id, expires_at=expires_at,
        roles=roles_of(address, settings.caseworkers), token_hash=hashed,
    )


SessionDep = Annotated[SignedIn, Depends(current_session)]


def current_caseworker(caller: SessionDep) -> SignedIn:
    """The signed-in caller, who must be a caseworker.

    Raises:
        HTTPException: 403 for a caller without the role.
    """
    if not caller.is_caseworker:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only caseworkers may do this")
    return caller


CaseworkerDep = Annotated[SignedIn, Depends(current_caseworker)]
