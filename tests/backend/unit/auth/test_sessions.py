"""Session tokens, roles, the sign-in policy taken from the public URL, and the per-client rate limiter."""

from __future__ import annotations

from pathlib import Path

from tracemark.api.limits import RateLimiter
from tracemark.auth.sessions import Role, new_token, roles_of, sign_in_policy, token_hash
from tracemark.config import Settings


def test_tokens_are_random_and_only_their_hash_is_kept() -> None:
    token, hashed = new_token()
    assert len(token) >= 43 and token_hash(token) == hashed and token not in hashed
    assert new_token()[0] != token


def test_roles() -> None:
    caseworkers = [" 0xAbC0000000000000000000000000000000000001 "]
    assert roles_of("0xabc0000000000000000000000000000000000001", caseworkers) == {Role.HOLDER, Role.CASEWORKER}
    assert roles_of("0xabc0000000000000000000000000000000000002", caseworkers) == {Role.HOLDER}


def test_the_policy_names_the_public_url(tmp_path: Path) -> None:
    policy = sign_in_policy(Settings(public_url="https://tracemark.example/", data_dir=tmp_path), 1)
    assert (policy.domain, policy.uri, policy.chain_id) == ("tracemark.example", "https://tracemark.example", 1)
    local = sign_in_policy(Settings(api_host="127.0.0.1", api_port=8123, data_dir=tmp_path), 31337)
    assert (local.domain, local.uri) == ("127.0.0.1:8123", "http://127.0.0.1:8123")


def test_the_rate_limiter_refills_per_client() -> None:
    limiter = RateLimiter({"default": 60})
    assert all(limiter.take("a", "default", now=0.0) == 0 for _ in range(60))
    assert limiter.take("a", "default", now=0.0) == 1.0
    assert limiter.take("b", "default", now=0.0) == 0
    assert limiter.take("a", "default", now=1.0) == 0  # one token per second comes back
    assert limiter.take("a", "default", now=1.0) > 0
