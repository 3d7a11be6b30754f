"""Sign-In with Ethereum (EIP-4361): single-use nonces, and the checks a sign-in message must pass.

A client asks for a nonce, builds an EIP-4361 message naming our domain, URI, chain id and that nonce, signs it
with its wallet (EIP-191 personal_sign), and sends message and signature back. The sign-in succeeds only if the
message parses, names this service (domain, URI, chain id), is within its validity window, is signed by the
address it names, and carries a nonce we issued that has neither expired nor been used. The nonce is consumed
only after every other check has passed, so nobody can burn another client's nonce with a bad message.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from eth_account import Account
from eth_account.messages import encode_defunct
from siwe import SiweMessage
from web3 import Web3

NONCE_BYTES = 16
CLOCK_SKEW = timedelta(minutes=1)


class SignInError(Exception):
    """A sign-in message was refused; the message says why (safe to show to the client)."""


class NonceStore(Protocol):
    """Issued nonces: each can be consumed once, before it expires."""

    def issue(self, nonce: str, expires_at: datetime) -> None:
        """Records a new nonce."""
        ...

    def consume(self, nonce: str, now: datetime) -> bool:
        """Marks a nonce used; False when it is unknown, expired or already used. Must be atomic."""
        ...


@dataclass(frozen=True)
class SignInPolicy:
    """What a sign-in message must name, and how long things live."""

    domain: str
    uri: str
    chain_id: int
    nonce_ttl: timedelta = timedelta(minutes=5)
    session_ttl: timedelta = timedelta(hours=12)
    statement: str = "Sign in to Tracemark."


@dataclass(frozen=True)
class IssuedNonce:
    """A nonce and everything a client needs to build its message."""

    nonce: str
    expires_at: datetime
    domain: str
    uri: str
    chain_id: int
    statement: str


def issue_nonce(policy: SignInPolicy, nonces: NonceStore, now: datetime | None = None) -> IssuedNonce:
    """Creates and records a single-use nonce (32 hexadecimal characters, as EIP-4361 allows)."""
    now = now or datetime.now(UTC)
    nonce = secrets.token_hex(NONCE_BYTES)
    expires_at = now + policy.nonce_ttl
    nonces.issue(nonce, expires_at)
    return IssuedNonce(nonce, expires_at, policy.domain, policy.uri, policy.chain_id, policy.statement)


def build_message(policy: SignInPolicy, address: str, nonce: str, issued_at: datetime) -> str:
    """The EIP-4361 message a client signs (used by our CLI and by tests)."""
    message = SiweMessage(
        scheme=None,
        domain=policy.domain,
        address=Web3.to_checksum_address(address),
        uri=policy.uri,
        version="1",
        chain_id=policy.chain_id,
        issued_at=issued_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        nonce=nonce,
        statement=policy.statement,
    )
    return str(message.prepare_message())


def verify_sign_in(
    message_text: str, signature: str, policy: SignInPolicy, nonces: NonceStore, now: datetime | None = None
) -> str:
    """Checks a signed sign-in message and consumes its nonce.

    Args:
        message_text: The EIP-4361 message as signed.
        signature: The EIP-191 signature, hex.
        policy: What the message must name.
        nonces: The issued nonces.
        now: The time to check against (the current time when omitted).

    Returns:
        The signer's checksum address.

    Raises:
        SignInError: with the reason, for every refused message.
    """
    now = now or datetime.now(UTC)
    try:
        message = SiweMessage.from_message(message=message_text)
    except Exception as exc:  # the parser raises many error types for malformed text
        raise SignInError("the message is not a valid EIP-4361 sign-in message") from exc
    if message.domain != policy.domain:
        raise SignInError(f"the message is for {message.domain!r}, not for {policy.domain!r}")
    if message.uri != policy.uri:
        raise SignInError(f"the message is for URI {message.uri!r}, not {policy.uri!r}")
    if int(message.chain_id) != policy.chain_id:
        raise SignInError(f"the message is for chain {message.chain_id}, not chain {policy.chain_id}")
    issued_at = datetime.fromisoformat(str(message.issued_at).replace("Z", "+00:00"))
    if issued_at > now + CLOCK_SKEW:
        raise SignInError("the message was issued in the future")
    if issued_at < now - policy.nonce_ttl - CLOCK_SKEW:
        raise SignInError("the message is too old; ask for a new nonce")
    if message.expiration_time is not None and now >= _parse(str(message.expiration_time)):
        raise SignInError("the message has expired")
    if message.not_before is not None and now < _parse(str(message.not_before)):
        raise SignInError("the message is not valid yet")
    try:
        signer = Account.recover_message(encode_defunct(text=message_text), signature=signature)
    except Exception as exc:
        raise SignInError("the signature is malformed") from exc
    if signer != Web3.to_checksum_address(message.address):
        raise SignInError("the signature is not the named address's")
    if not nonces.consume(message.nonce, now):
        raise SignInError("the nonce is unknown, expired or already used")
    return str(signer)


def _parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
