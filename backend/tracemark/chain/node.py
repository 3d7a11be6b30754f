"""A thin JSON-RPC adapter for what the service asks a node directly (chain id, code, block number)."""

from __future__ import annotations

from web3 import HTTPProvider, Web3


class ChainUnavailableError(Exception):
    """The JSON-RPC endpoint does not answer."""


class ChainNode:
    """A JSON-RPC endpoint."""

    def __init__(self, rpc_url: str, timeout_s: float = 10.0) -> None:
        self.rpc_url = rpc_url
        self._w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}))

    def chain_id(self) -> int:
        """The node's chain id.

        Raises:
            ChainUnavailableError: when the node does not answer.
        """
        try:
            return int(self._w3.eth.chain_id)
        except Exception as exc:  # web3 raises many transport errors; all mean the same here
            raise ChainUnavailableError(f"no answer from {self.rpc_url}: {exc}") from exc

    def block_number(self) -> int:
        """The number of the latest block."""
        try:
            return int(self._w3.eth.block_number)
        except Exception as exc:
            raise ChainUnavailableError(f"no answer from {self.rpc_url}: {exc}") from exc

    def has_code(self, address: str) -> bool:
        """Whether a contract is deployed at an address."""
        try:
            return len(self._w3.eth.get_code(Web3.to_checksum_address(address))) > 0
        except Exception as exc:
            raise ChainUnavailableError(f"no answer from {self.rpc_url}: {exc}") from exc
