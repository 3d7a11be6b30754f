"""Sign-In with Ethereum: every way a sign-in message can be wrong is refused with its reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from tracemark.auth.siwe import SignInError, SignInPolicy, build_message, issue_nonce, verify_sign_in

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
POLICY = SignInPolicy(domain="tracemark.test", uri="https://tracemark.test/login", chain_id=31337)


class MemoryNonces:
    """An in-memory nonce store with the same contract as the database one."""

    def __init__(self) -> None:
        self.nonces: dict[str, tuple[datetime, bool]] = {}

    def issue(self, nonce: str, expires_at: datetime) -> None:
        self.nonces[nonce] = (expires_at, False)

    def consume(self, nonce: str, now: datetime) -> bool:
        expires_at, used = self.nonces.get(nonce, (now, True))
        if used or now >= expires_at:
            return False
        self.nonces[nonce] = (expires_at, True)
        return True


@pytest.fixture
def nonces() -> MemoryNonces:
    return MemoryNonces()


def signed(text: str, key: bytes | None = None) -> tuple[str, str]:
    account = Account.from_key(key) if key else WALLET
    return text, account.sign_message(encode_defunct(text=text)).signature.hex()


WALLET = Account.from_key(b"\x11" * 32)


def fresh_message(nonces: MemoryNonces, policy: SignInPolicy = POLICY, at: datetime = NOW) -> str:
    nonce = issue_nonce(POLICY, nonces, now=at).nonce
    return build_message(policy, WALLET.address, nonce, at)


def test_a_valid_sign_in_returns_the_address(nonces: MemoryNonces) -> None:
    assert verify_sign_in(*signed(fresh_message(nonces)), POLICY, nonces, now=NOW) == WALLET.address


def test_a_replayed_message_is_refused(nonces: MemoryNonces) -> None:
    message, signature = signed(fresh_message(nonces))
    verify_sign_in(message, signature, POLICY, nonces, now=NOW)
    with pytest.raises(SignInError, match="already used"):
        verify_sign_in(message, signature, POLICY, nonces, now=NOW + timedelta(seconds=1))


def test_an_expired_nonce_is_refused(nonces: MemoryNonces) -> None:
    message, signature = signed(fresh_message(nonces))
    with pytest.raises(SignInError, match=r"too old|expired"):
        verify_sign_in(message, signature, POLICY, nonces, now=NOW + POLICY.nonce_ttl + timedelta(minutes=2))


def test_a_nonce_we_never_issued_is_refused(nonces: MemoryNonces) -> None:
    message, signature = signed(build_message(POLICY, WALLET.address, "deadbeefdeadbeef", NOW))
    with pytest.raises(SignInError, match="unknown"):
        verify_sign_in(message, signature, POLICY, nonces, now=NOW)


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        (SignInPolicy("evil.test", POLICY.uri, POLICY.chain_id), "not for 'tracemark.test'"),
        (SignInPolicy(POLICY.domain, "https://evil.test/login", POLICY.chain_id), "URI"),
        (SignInPolicy(POLICY.domain, POLICY.uri, 1), "chain 1, not chain 31337"),
    ],
)
def test_a_message_for_another_service_is_refused(nonces: MemoryNonces, policy: SignInPolicy, reason: str) -> None:
    message, signature = signed(fresh_message(nonces, policy=policy))
    with pytest.raises(SignInError, match=reason):
        verify_sign_in(message, signature, POLICY, nonces, now=NOW)
    # The refused message did not burn the nonce: a correct message with it still works.
    nonce = next(iter(nonces.nonces))
    good = build_message(POLICY, WALLET.address, nonce, NOW)
    assert verify_sign_in(*signed(good), POLICY, nonces, now=NOW) == WALLET.address


def test_a_signature_by_someone_else_is_refused(nonces: MemoryNonces) -> None:
    message, signature = signed(fresh_message(nonces), key=b"\x22" * 32)
    with pytest.raises(SignInError, match="not the named address"):
        verify_sign_in(message, signature, POLICY, nonces, now=NOW)


@pytest.mark.parametrize("signature", ["", "0x1234", "not hex"])
def test_a_malformed_signature_is_refused(nonces: MemoryNonces, signature: str) -> None:
    with pytest.raises(SignInError, match=r"malformed|not the named"):
        verify_sign_in(fresh_message(nonces), signature, POLICY, nonces, now=NOW)


@pytest.mark.parametrize("text", ["", "hello", "tracemark.test wants you to sign in\n\n"])
def test_a_malformed_message_is_refused(nonces: MemoryNonces, text: str) -> None:
    with pytest.raises(SignInError, match="not a valid EIP-4361"):
        verify_sign_in(*signed(text), POLICY, nonces, now=NOW)


def test_a_message_from_the_future_is_refused(nonces: MemoryNonces) -> None:
    message, signature = signed(fresh_message(nonces, at=NOW + timedelta(minutes=10)))
    with pytest.raises(SignInError, match="future"):
        verify_sign_in(message, signature, POLICY, nonces, now=NOW)


def test_expiration_time_in_the_message_is_honoured(nonces: MemoryNonces) -> None:
    text = fresh_message(nonces) + "\nExpiration Time: 2026-12-04T12:01:00.000Z"
    message, signature = signed(text)
    with pytest.raises(SignInError, match="expired"):
        verify_sign_in(message, signature, POLICY, nonces, now=NOW + timedelta(minutes=2))


def test_not_before_in_the_message_is_honoured(nonces: MemoryNonces) -> None:
    text = fresh_message(nonces) + "\nNot Before: 2026-12-04T12:03:00.000Z"
    message, signature = signed(text)
    with pytest.raises(SignInError, match="not valid yet"):
        verify_sign_in(message, signature, POLICY, nonces, now=NOW + timedelta(minutes=1))
