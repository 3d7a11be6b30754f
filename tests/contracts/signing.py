"""EIP-712 signatures for the contract tests, made with eth-account from test private keys.

Each message type mirrors the Solidity struct field by field (same names, same order, same types), so the
digest computed here is the one the contract recovers from. The domain binds a signature to a chain id and a
contract address. Besides the honest signature, `Signature` can produce the malleable twin (`high_s`) and
malformed encodings, which the contracts must refuse.

These helpers are deliberately independent of the backend's signer: the tests check the contracts against a
second, small implementation of the same typed data.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_keys import keys
from eth_utils import keccak, to_checksum_address

# Order of the secp256k1 group; a signature (r, s, v) has the twin (r, n - s, v ^ 1) over the same digest.
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

CERTIFICATE_NAME, CERTIFICATE_VERSION = "Tracemark ImageCertificate", "1"
MARKET_NAME, MARKET_VERSION = "Tracemark LicenseMarket", "1"
CPY_NAME, CPY_VERSION = "Tracemark Copyright", "1"

Types = dict[str, list[dict[str, str]]]

REGISTRATION_TYPES: Types = {
    "Registration": [
        {"name": "creator", "type": "address"},
        {"name": "contentHash", "type": "bytes32"},
        {"name": "metadataDigest", "type": "bytes32"},
        {"name": "fingerprint", "type": "bytes32"},
        {"name": "royaltyBps", "type": "uint16"},
        {"name": "nonce", "type": "uint64"},
        {"name": "deadline", "type": "uint64"},
    ]
}
METADATA_REVISION_TYPES: Types = {
    "MetadataRevision": [
        {"name": "tokenId", "type": "uint256"},
        {"name": "metadataDigest", "type": "bytes32"},
        {"name": "nonce", "type": "uint64"},
        {"name": "deadline", "type": "uint64"},
    ]
}
SETTLEMENT_QUOTE_TYPES: Types = {
    "SettlementQuote": [
        {"name": "caseId", "type": "bytes32"},
        {"name": "certificateId", "type": "uint256"},
        {"name": "payer", "type": "address"},
        {"name": "amount", "type": "uint256"},
        {"name": "holderShareBps", "type": "uint16"},
        {"name": "kind", "type": "uint8"},
        {"name": "licenceDuration", "type": "uint64"},
        {"name": "deadline", "type": "uint256"},
    ]
}
PERMIT_TYPES: Types = {
    "Permit": [
        {"name": "owner", "type": "address"},
        {"name": "spender", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}


def type_string(types: Types, primary: str) -> str:
    """The EIP-712 type string of a struct without nested structs, e.g. `Permit(address owner,...)`.

    Args:
        types: The struct definitions.
        primary: The struct's name.

    Returns:
        The string whose keccak256 is the struct's type hash.
    """
    fields = ",".join(f"{field['type']} {field['name']}" for field in types[primary])
    return f"{primary}({fields})"


def type_hash(types: Types, primary: str) -> bytes:
    """The keccak256 type hash of a struct, to compare with the contract's `..._TYPEHASH` constant."""
    return keccak(text=type_string(types, primary))


@dataclass(frozen=True)
class Domain:
    """An EIP-712 domain: the contract (name, version, address) and the chain a signature is for."""

    name: str
    version: str
    chain_id: int
    verifying_contract: str

    def as_dict(self) -> dict[str, Any]:
        """The domain in eth-account's `domain_data` form."""
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.verifying_contract),
        }

    def with_chain_id(self, chain_id: int) -> Domain:
        """The same domain on another chain."""
        return replace(self, chain_id=chain_id)

    def with_contract(self, address: str) -> Domain:
        """The same domain for another deployment."""
        return replace(self, verifying_contract=address)


def certificate_domain(chain_id: int, address: str) -> Domain:
    """The domain of an `ImageCertificate` deployment."""
    return Domain(CERTIFICATE_NAME, CERTIFICATE_VERSION, chain_id, address)


def market_domain(chain_id: int, address: str) -> Domain:
    """The domain of a `LicenseMarket` deployment."""
    return Domain(MARKET_NAME, MARKET_VERSION, chain_id, address)


def cpy_domain(chain_id: int, address: str) -> Domain:
    """The domain of a `CPYToken` deployment (its EIP-2612 permits)."""
    return Domain(CPY_NAME, CPY_VERSION, chain_id, address)


@dataclass(frozen=True)
class Signature:
    """A secp256k1 signature over a 32-byte digest; `v` is 27 or 28."""

    v: int
    r: int
    s: int

    @property
    def r_bytes(self) -> bytes:
        """`r` as the 32 bytes a `bytes32` argument takes."""
        return self.r.to_bytes(32, "big")

    @property
    def s_bytes(self) -> bytes:
        """`s` as the 32 bytes a `bytes32` argument takes."""
        return self.s.to_bytes(32, "big")

    def to_bytes(self) -> bytes:
        """The 65-byte `r || s || v` encoding that OpenZeppelin's `ECDSA.recover` reads."""
        return self.r_bytes + self.s_bytes + bytes([self.v])

    def high_s(self) -> Signature:
        """The malleable twin: `s' = n - s` with the other parity; `ecrecover` accepts it, OpenZeppelin does not."""
        return Signature(v=55 - self.v, r=self.r, s=SECP256K1_N - self.s)

    def is_low_s(self) -> bool:
        """Whether `s` is in the lower half of the group order, as OpenZeppelin's `ECDSA` requires."""
        return self.s <= SECP256K1_N // 2


EIP712_DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"


def domain_separator(domain: Domain) -> bytes:
    """The EIP-712 domain separator, computed field by field (not through eth-account)."""
    return keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                keccak(text=EIP712_DOMAIN_TYPE),
                keccak(text=domain.name),
                keccak(text=domain.version),
                domain.chain_id,
                to_checksum_address(domain.verifying_contract),
            ],
        )
    )


def _check_single_struct(types: Types, primary: str) -> None:
    # eth-account infers the primary type; these helpers only handle messages made of one struct.
    if list(types) != [primary]:
        raise ValueError(f"expected exactly the struct {primary}, got {list(types)}")


def typed_data_digest(domain: Domain, types: Types, primary: str, message: dict[str, Any]) -> bytes:
    """The EIP-712 digest `keccak256(0x1901 || domainSeparator || hashStruct(message))`."""
    _check_single_struct(types, primary)
    signable = encode_typed_data(domain_data=domain.as_dict(), message_types=types, message_data=message)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def sign_typed(
    private_key: bytes | str, domain: Domain, types: Types, primary: str, message: dict[str, Any]
) -> Signature:
    """Signs typed data with a private key.

    Args:
        private_key: The signer's key.
        domain: The EIP-712 domain.
        types: The struct definitions (without `EIP712Domain`).
        primary: The primary type's name.
        message: The struct's values by field name.

    Returns:
        The low-s signature eth-account produces.
    """
    _check_single_struct(types, primary)
    signed = Account.sign_typed_data(private_key, domain.as_dict(), types, message)
    return Signature(v=signed.v, r=signed.r, s=signed.s)


def recover(digest: bytes, signature: Signature) -> str:
    """The address `ecrecover` returns for a digest and a (low- or high-s) signature with `v` 27 or 28."""
    low = signature if signature.is_low_s() else signature.high_s()  # both recover to the same key
    public_key = keys.Signature(vrs=(low.v - 27, low.r, low.s)).recover_public_key_from_msg_hash(digest)
    return str(public_key.to_checksum_address())


def _hex32(value: bytes) -> bytes:
    if len(value) != 32:
        raise ValueError(f"expected 32 bytes, got {len(value)}")
    return value


@dataclass(frozen=True)
class Registration:
    """`IImageCertificate.Registration`: what a verifier attests before a certificate is minted."""

    creator: str
    content_hash: bytes
    metadata_digest: bytes
    fingerprint: bytes
    royalty_bps: int
    nonce: int
    deadline: int

    def message(self) -> dict[str, Any]:
        return {
            "creator": to_checksum_address(self.creator),
            "contentHash": _hex32(self.content_hash),
            "metadataDigest": _hex32(self.metadata_digest),
            "fingerprint": _hex32(self.fingerprint),
            "royaltyBps": self.royalty_bps,
            "nonce": self.nonce,
            "deadline": self.deadline,
        }

    def as_tuple(self) -> tuple[Any, ...]:
        """The struct as a contract call argument."""
        return tuple(self.message().values())

    @property
    def token_id(self) -> int:
        return int.from_bytes(self.content_hash, "big")


@dataclass(frozen=True)
class MetadataRevision:
    """`IImageCertificate.MetadataRevision`: a verifier's consent to new metadata for a certificate."""

    token_id: int
    metadata_digest: bytes
    nonce: int
    deadline: int

    def message(self) -> dict[str, Any]:
        return {
            "tokenId": self.token_id,
            "metadataDigest": _hex32(self.metadata_digest),
            "nonce": self.nonce,
            "deadline": self.deadline,
        }

    def as_tuple(self) -> tuple[Any, ...]:
        return tuple(self.message().values())


@dataclass(frozen=True)
class SettlementQuote:
    """`ILicenseMarket.SettlementQuote`: the platform's signed offer to settle a case."""

    case_id: bytes
    certificate_id: int
    payer: str
    amount: int
    holder_share_bps: int
    kind: int
    licence_duration: int
    deadline: int

    def message(self) -> dict[str, Any]:
        return {
            "caseId": _hex32(self.case_id),
            "certificateId": self.certificate_id,
            "payer": to_checksum_address(self.payer),
            "amount": self.amount,
            "holderShareBps": self.holder_share_bps,
            "kind": self.kind,
            "licenceDuration": self.licence_duration,
            "deadline": self.deadline,
        }

    def as_tuple(self) -> tuple[Any, ...]:
        return tuple(self.message().values())


@dataclass(frozen=True)
class Permit:
    """An EIP-2612 `Permit`: the owner lets `spender` spend `value` of its tokens."""

    owner: str
    spender: str
    value: int
    nonce: int
    deadline: int

    def message(self) -> dict[str, Any]:
        return {
            "owner": to_checksum_address(self.owner),
            "spender": to_checksum_address(self.spender),
            "value": self.value,
            "nonce": self.nonce,
            "deadline": self.deadline,
        }


def sign_registration(private_key: bytes | str, domain: Domain, registration: Registration) -> Signature:
    """A verifier's attestation of a registration."""
    return sign_typed(private_key, domain, REGISTRATION_TYPES, "Registration", registration.message())


def sign_metadata_revision(private_key: bytes | str, domain: Domain, revision: MetadataRevision) -> Signature:
    """A verifier's attestation of a metadata revision."""
    return sign_typed(private_key, domain, METADATA_REVISION_TYPES, "MetadataRevision", revision.message())


def sign_quote(private_key: bytes | str, domain: Domain, quote: SettlementQuote) -> Signature:
    """A settlement signer's quote."""
    return sign_typed(private_key, domain, SETTLEMENT_QUOTE_TYPES, "SettlementQuote", quote.message())


def sign_permit(private_key: bytes | str, domain: Domain, permit: Permit) -> Signature:
    """A token holder's EIP-2612 permit."""
    return sign_typed(private_key, domain, PERMIT_TYPES, "Permit", permit.message())


def registration_digest(domain: Domain, registration: Registration) -> bytes:
    return typed_data_digest(domain, REGISTRATION_TYPES, "Registration", registration.message())


def metadata_revision_digest(domain: Domain, revision: MetadataRevision) -> bytes:
    return typed_data_digest(domain, METADATA_REVISION_TYPES, "MetadataRevision", revision.message())


def quote_digest(domain: Domain, quote: SettlementQuote) -> bytes:
    return typed_data_digest(domain, SETTLEMENT_QUOTE_TYPES, "SettlementQuote", quote.message())


def permit_digest(domain: Domain, permit: Permit) -> bytes:
    return typed_data_digest(domain, PERMIT_TYPES, "Permit", permit.message())
