"""Reads one certificate straight from the chain (no indexer, no database): what a verifier needs.

`ImageCertificate` answers `certificateOf(contentHash)` (0 when unregistered), `standing(id)` (holder, holding
counter, dispute flag), `registrationOf(id)` (creator, royalty, time), `metadataDigest(id)` and `tokenURI(id)`.
The registration block and the fingerprint emitted at registration come from the `CertificateRegistered` event,
and the block since which the holder holds it from the last ERC-721 `Transfer` of the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3 import HTTPProvider, Web3

from tracemark.chain.contracts import abi_of
from tracemark.chain.deployments import Deployment
from tracemark.chain.node import ChainUnavailableError

_REGISTERED = Web3.keccak(text="CertificateRegistered(uint256,bytes32,bytes32)")
_TRANSFER = Web3.keccak(text="Transfer(address,address,uint256)")


@dataclass(frozen=True)
class ChainCertificate:
    """A certificate as the chain shows it, read at one block.

    Attributes:
        token_id: The certificate id (the uint256 of the content hash).
        holder: The current holder (checksummed).
        creator: The registering creator.
        holding: Counts the changes of hands.
        disputed: Whether the certificate is flagged as disputed.
        registered_at: Unix time of the registration.
        metadata_digest: SHA-256 of the current metadata document (32 bytes).
        token_uri: `tokenURI(id)`, `ipfs://<CIDv1>`.
        registered_block: Block of the registration (None when the node could not say).
        registered_tx: Transaction of the registration (None when unknown).
        registered_fingerprint: The fingerprint emitted at registration (None when unknown).
        holder_since_block: Block of the last transfer (the mint, if it never changed hands); None when unknown.
        read_block: The block everything was read at.
    """

    token_id: int
    holder: str
    creator: str
    holding: int
    disputed: bool
    registered_at: int
    metadata_digest: bytes
    token_uri: str
    registered_block: int | None
    registered_tx: str | None
    registered_fingerprint: bytes | None
    holder_since_block: int | None
    read_block: int


class CertificateReader:
    """The `ImageCertificate` contract of a deployment, read over JSON-RPC."""

    def __init__(self, rpc_url: str, address: str, from_block: int = 0, timeout_s: float = 10.0) -> None:
        """A reader of the contract at `address`; its events are searched from `from_block` on."""
        self.rpc_url = rpc_url
        self.from_block = from_block
        self._w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}))
        self._contract = self._w3.eth.contract(
            address=Web3.to_checksum_address(address), abi=abi_of("ImageCertificate")
        )

    @classmethod
    def for_deployment(cls, rpc_url: str, deployment: Deployment, timeout_s: float = 10.0) -> CertificateReader:
        """The reader of a recorded deployment's `ImageCertificate`."""
        return cls(rpc_url, deployment.address_of("ImageCertificate"), deployment.block, timeout_s)

    @staticmethod
    def chain_id_of(rpc_url: str, timeout_s: float = 10.0) -> int:
        """The chain id a node serves (to find its deployment before a reader exists).

        Raises:
            ChainUnavailableError: the node does not answer.
        """
        try:
            return int(Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s})).eth.chain_id)
        except Exception as exc:
            raise ChainUnavailableError(f"no answer from {rpc_url}: {exc}") from exc

    @property
    def address(self) -> str:
        """The contract's address."""
        return str(self._contract.address)

    def chain_id(self) -> int:
        """The chain the node serves.

        Raises:
            ChainUnavailableError: the node does not answer.
        """
        try:
            return int(self._w3.eth.chain_id)
        except Exception as exc:
            raise ChainUnavailableError(f"no answer from {self.rpc_url}: {exc}") from exc

    def _call(self, name: str, *args: Any, block: int) -> Any:
        try:
            return getattr(self._contract.functions, name)(*args).call(block_identifier=block)
        except Exception as exc:  # transport errors and reverts alike: the answer cannot be trusted
            raise ChainUnavailableError(f"{name} on {self.rpc_url} failed: {exc}") from exc

    def read(self, content_hash: bytes) -> ChainCertificate | None:
        """The certificate of a content hash, or None when it is not registered.

        Raises:
            ChainUnavailableError: the node does not answer, or the contract is not at the recorded address.
        """
        try:
            block = int(self._w3.eth.block_number)
        except Exception as exc:
            raise ChainUnavailableError(f"no answer from {self.rpc_url}: {exc}") from exc
        token_id = int(self._call("certificateOf", content_hash, block=block))
        if token_id == 0:
            return None
        holder, holding, disputed = self._call("standing", token_id, block=block)
        creator, _royalty, registered_at = self._call("registrationOf", token_id, block=block)
        digest = bytes(self._call("metadataDigest", token_id, block=block))
        token_uri = str(self._call("tokenURI", token_id, block=block))
        registered = self._last_log(_REGISTERED, [Web3.to_hex(token_id.to_bytes(32, "big"))], block)
        transfer = self._last_log(_TRANSFER, [None, None, Web3.to_hex(token_id.to_bytes(32, "big"))], block)
        fingerprint = None
        if registered is not None and len(bytes(registered["data"])) == 64:
            fingerprint = bytes(registered["data"])[32:64]
        return ChainCertificate(
            token_id=token_id,
            holder=Web3.to_checksum_address(holder),
            creator=Web3.to_checksum_address(creator),
            holding=int(holding),
            disputed=bool(disputed),
            registered_at=int(registered_at),
            metadata_digest=digest,
            token_uri=token_uri,
            registered_block=int(registered["blockNumber"]) if registered is not None else None,
            registered_tx=Web3.to_hex(registered["transactionHash"]) if registered is not None else None,
            registered_fingerprint=fingerprint,
            holder_since_block=int(transfer["blockNumber"]) if transfer is not None else None,
            read_block=block,
        )

    def _last_log(self, topic0: bytes, more: list[str | None], block: int) -> Any:
        """The last log of the contract with these topics up to `block`, or None (also when the node refuses a
        range this long: the block is a detail, not what the verification rests on)."""
        try:
            logs = self._w3.eth.get_logs({
                "address": self._contract.address,
                "fromBlock": self.from_block,
                "toBlock": block,
                "topics": [Web3.to_hex(topic0), *more],
            })
        except Exception:
            return None
        return logs[-1] if logs else None
