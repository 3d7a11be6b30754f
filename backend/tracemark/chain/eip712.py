"""EIP-712 messages of the Tracemark contracts, and signing them with a platform key.

Each message is bound to a chain id and a contract address through the EIP-712 domain, to a nonce or a case
id, and to a deadline; the contracts reject a signature used on another chain, on another contract, after its
deadline, twice, or with a high `s` value (eth-account always produces low-s signatures).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data

CERTIFICATE_DOMAIN = ("Tracemark ImageCertificate", "1")
MARKET_DOMAIN = ("Tracemark LicenseMarket", "1")
CPY_DOMAIN = ("Tracemark Copyright", "1")

_TYPES: dict[str, list[dict[str, str]]] = {
    "Registration": [
        {"name": "creator", "type": "address"},
        {"name": "contentHash", "type": "bytes32"},
        {"name": "metadataDigest", "type": "bytes32"},
        {"name": "fingerprint", "type": "bytes32"},
        {"name": "royaltyBps", "type": "uint16"},
        {"name": "nonce", "type": "uint64"},
        {"name": "deadline", "type": "uint64"},
    ],
    "MetadataRevision": [
        {"name": "tokenId", "type": "uint256"},
        {"name": "metadataDigest", "type": "bytes32"},
        {"name": "nonce", "type": "uint64"},
        {"name": "deadline", "type": "uint64"},
    ],
    "SettlementQuote": [
        {"name": "caseId", "type": "bytes32"},
        {"name": "certificateId", "type": "uint256"},
        {"name": "payer", "type": "address"},
        {"name": "amount", "type": "uint256"},
        {"name": "holderShareBps", "type": "uint16"},
        {"name": "kind", "type": "uint8"},
        {"name": "licenceDuration", "type": "uint64"},
        {"name": "deadline", "type": "uint256"},
    ],
    "Permit": [
        {"name": "owner", "type": "address"},
        {"name": "spender", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
}


@dataclass(frozen=True)
class Domain:
    """An EIP-712 domain: which contract on which chain a signature is for."""

    name: str
    version: str
    chain_id: int
    verifying_contract: str

    def as_dict(self) -> dict[str, Any]:
        """The domain as eth-account expects it."""
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }


@dataclass(frozen=True)
class Registration:
    """An authorship attestation: the certificate is minted to `creator` (see IImageCertificate)."""

    creator: str
    contentHash: bytes  # noqa: N815 - EIP-712 field names
    metadataDigest: bytes  # noqa: N815
    fingerprint: bytes
    royaltyBps: int  # noqa: N815
    nonce: int
    deadline: int


@dataclass(frozen=True)
class MetadataRevision:
    """An attestation that replaces a certificate's metadata."""

    tokenId: int  # noqa: N815
    metadataDigest: bytes  # noqa: N815
    nonce: int
    deadline: int


@dataclass(frozen=True)
class SettlementQuote:
    """A settlement quote: what the payer of a case may pay to settle it."""

    caseId: bytes  # noqa: N815
    certificateId: int  # noqa: N815
    payer: str
    amount: int
    holderShareBps: int  # noqa: N815
    kind: int
    licenceDuration: int  # noqa: N815
    deadline: int


@dataclass(frozen=True)
class Permit:
    """An EIP-2612 permit of the CPY token."""

    owner: str
    spender: str
    value: int
    nonce: int
    deadline: int


Message = Registration | MetadataRevision | SettlementQuote | Permit


@dataclass(frozen=True)
class Signature:
    """A 65-byte ECDSA signature and its parts."""

    signature: bytes
    v: int
    r: bytes
    s: bytes


_DOMAIN_TYPES = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def _json_value(value: Any) -> Any:
    return "0x" + value.hex() if isinstance(value, bytes) else value


def typed_data(message: Message, domain: Domain) -> dict[str, Any]:
    """The full EIP-712 document of a message (`eth_signTypedData_v4` input): types, primary type, domain and
    message, with byte strings as 0x hex, so a wallet can show and sign exactly what the contract checks."""
    primary = type(message).__name__
    return {
        "types": {"EIP712Domain": _DOMAIN_TYPES, primary: _TYPES[primary]},
        "primaryType": primary,
        "domain": domain.as_dict(),
        "message": {name: _json_value(value) for name, value in asdict(message).items()},
    }


def sign(message: Message, domain: Domain, private_key: bytes | str) -> Signature:
    """Signs a Tracemark EIP-712 message.

    Args:
        message: The message; its class name is the EIP-712 primary type.
        domain: The contract and chain the signature is for.
        private_key: The signer's key.

    Returns:
        The signature (low s).
    """
    primary = type(message).__name__
    typed = encode_typed_data(
        domain_data=domain.as_dict(),
        message_types={primary: _TYPES[primary]},
        message_data=asdict(message),
    )
    signed = Account.sign_message(typed, private_key)
    return Signature(
        signature=bytes(signed.signature),
        v=signed.v,
        r=signed.r.to_bytes(32, "big"),
        s=signed.s.to_bytes(32, "big"),
    )
