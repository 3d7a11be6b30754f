"""Sign-In with Ethereum (EIP-4361): `POST /v1/auth/nonce`, `/v1/auth/login`, `/v1/auth/logout`, `GET /v1/auth/session`.

1. `nonce` hands out a single-use nonce with everything the message must name (domain, URI, chain id, statement).
2. The wallet signs the EIP-4361 message (EIP-191 personal_sign); `login` checks it (`tracemark.auth.siwe`), consumes
   the nonce and opens a session: the token comes back in the body (for `Authorization: Bearer`) and as an
   HttpOnly, SameSite=Strict cookie. A replayed, expired, wrong-domain, wrong-URI or wrong-chain message is a 401.
3. `logout` revokes the session.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from tracemark.api.deps import ChainIdDep, DatabaseDep, SettingsDep
from tracemark.api.security import SessionDep
from tracemark.auth.sessions import COOKIE_NAME, new_token, public_url, roles_of, sign_in_policy
from tracemark.auth.siwe import SignInError, issue_nonce, verify_sign_in
from tracemark.store.registration_repository import DatabaseNonceStore, add_session, revoke_session

router = APIRouter(prefix="/v1/auth", tags=["auth"])

UNAUTHORIZED: dict[int | str, dict[str, object]] = {401: {"description": "No valid session."}}


class NoncePublic(BaseModel):
    """A single-use nonce and what the EIP-4361 message must name."""

    nonce: str
    expires_at: datetime
    domain: str
    uri: str
    chain_id: int
    version: str = "1"
    statement: str


class LoginRequest(BaseModel):
    """A signed EIP-4361 message."""

    message: str = Field(min_length=1, max_length=4096, description="The EIP-4361 message as signed.")
    signature: str = Field(min_length=1, max_length=200, description="The EIP-191 signature, 0x hex.")


class SessionPublic(BaseModel):
    """A session: who, for which chain, until when, with which roles."""

    address: str
    chain_id: int
    expires_at: datetime
    roles: list[str]


class LoginPublic(SessionPublic):
    """A new session and its token (send it as `Authorization: Bearer <token>`, or rely on the cookie)."""

    token: str


@router.post("/nonce", response_model=NoncePublic)
def nonce(database: DatabaseDep, settings: SettingsDep, chain: ChainIdDep) -> NoncePublic:
    """Issues a single-use sign-in nonce."""
    policy = sign_in_policy(settings, chain())
    issued = issue_nonce(policy, DatabaseNonceStore(database))
    return NoncePublic(nonce=issued.nonce, expires_at=issued.expires_at, domain=issued.domain, uri=issued.uri,
                       chain_id=issued.chain_id, statement=issued.statement)


@router.post("/login", response_model=LoginPublic, responses=UNAUTHORIZED)
async def login(body: Annotated[LoginRequest, Body()], response: Response, database: DatabaseDep,
                settings: SettingsDep, chain: ChainIdDep) -> LoginPublic:
    """Checks a signed sign-in message and opens a session."""
    policy = sign_in_policy(settings, await run_in_threadpool(chain))
    try:
        address = await run_in_threadpool(
            verify_sign_in, body.message, body.signature, policy, DatabaseNonceStore(database)
        )
    except SignInError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=f"sign-in refused: {exc}") from exc
    token, hashed = new_token()
    now = datetime.now(UTC)
    expires_at = now + policy.session_ttl
    with database.write() as session:
        add_session(session, hashed, address, policy.chain_id, now, expires_at)
    response.set_cookie(
        COOKIE_NAME, token, max_age=int(policy.session_ttl.total_seconds()), httponly=True, samesite="strict",
        secure=public_url(settings).startswith("https://"), path="/",
    )
    roles = sorted(roles_of(address, settings.caseworkers))
    return LoginPublic(address=address, chain_id=policy.chain_id, expires_at=expires_at, roles=roles, token=token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=UNAUTHORIZED)
def logout(caller: SessionDep, database: DatabaseDep) -> Response:
    """Ends the caller's session (its token stops working at once)."""
    with database.write() as session:
        revoke_session(session, caller.token_hash, datetime.now(UTC))
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


@router.get("/session", response_model=SessionPublic, responses=UNAUTHORIZED)
def current(caller: SessionDep) -> SessionPublic:
    """The caller's session."""
    return SessionPublic(address=caller.address, chain_id=caller.chain_id, expires_at=caller.expires_at,
                         roles=sorted(caller.roles))
