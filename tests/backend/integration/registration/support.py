"""Helpers of the registration tests: an app on a temporary data folder, and wallets that sign in."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tracemark.api import create_app
from tracemark.auth.siwe import SignInPolicy, build_message
from tracemark.config import Settings

PUBLIC_URL = "http://tracemark.test"


def make_settings(data_dir: Path, **values: Any) -> Settings:
    """Settings for a test app: a temporary data folder, a public URL, no chain unless given."""
    base: dict[str, Any] = {"data_dir": data_dir, "public_url": PUBLIC_URL, "rpc_url": "http://127.0.0.1:9"}
    return Settings(**(base | values))


def make_app(data_dir: Path, chain_id: int | None = 31337, **values: Any) -> FastAPI:
    """The real app; with `chain_id` it serves that chain without asking a node."""
    app = create_app(make_settings(data_dir, **values))
    if chain_id is not None:
        app.state.chain_id = chain_id
    return app


def wallet(seed: int) -> LocalAccount:
    """A deterministic test wallet."""
    return Account.from_key(seed.to_bytes(32, "big"))


CASEWORKER = wallet(0xCA5E)


def sign_text(account: LocalAccount, text: str) -> str:
    """An EIP-191 personal_sign signature, 0x hex."""
    return "0x" + account.sign_message(encode_defunct(text=text)).signature.hex().removeprefix("0x")


def signed_login(client: TestClient, account: LocalAccount, **changes: Any) -> dict[str, str]:
    """A sign-in message for a fresh nonce, signed by `account`; `changes` alter the policy (domain, uri,
    chain_id) or the time it was issued (`issued_at`)."""
    issued = client.post("/v1/auth/nonce").json()
    policy = SignInPolicy(domain=changes.get("domain", issued["domain"]), uri=changes.get("uri", issued["uri"]),
                          chain_id=changes.get("chain_id", issued["chain_id"]))
    message = build_message(policy, account.address, changes.get("nonce", issued["nonce"]),
                            changes.get("issued_at", datetime.now(UTC)))
    return {"message": message, "signature": sign_text(account, message)}


def sign_in(client: TestClient, account: LocalAccount) -> dict[str, str]:
    """Signs in; returns the Authorization header of the session."""
    answer = client.post("/v1/auth/login", json=signed_login(client, account))
    assert answer.status_code == 200, answer.text
    client.cookies.clear()  # tests authenticate with the bearer token unless they test the cookie
    return {"Authorization": f"Bearer {answer.json()['token']}"}
