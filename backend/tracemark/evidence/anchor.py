"""Anchoring batch roots on-chain through `EvidenceAnchor`, and checking anchors (an adapter of the chain).

`EvidenceAnchor.anchor(root, count, batchCid)` may be called only by accounts with `ANCHOR_ROLE`; it stores the block
timestamp under the root and emits `EvidenceAnchored(root, count, batchCid, anchorer, timestamp)`. The anchorer signs
its transactions locally with its own key (on the local dev chain, anvil's account 4, which `scripts/deploy.py` gives
the role). A root anchored before (e.g. by a run that crashed before writing its journal entry) is not sent again:
its `EvidenceAnchored` event is looked up and recorded instead.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import HTTPProvider, Web3
from web3.logs import DISCARD
from web3.types import TxParams, Wei

from tracemark.chain.contracts import abi_of
from tracemark.chain.deployments import load_deployment
from tracemark.chain.node import ChainUnavailableError

DEV_CHAIN_ID = 31337
DEV_ANCHORER_KEY = "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"
"""Anvil's test account 4 (mnemonic `test test ... junk`): the anchorer `scripts/deploy.py` sets on a dev chain."""

ANCHORED_TOPIC = Web3.keccak(text="EvidenceAnchored(bytes32,uint256,string,address,uint256)")


class AnchorError(Exception):
    """The chain refused or did not confirm an anchoring."""


@dataclass(frozen=True)
class AnchorReceipt:
    """Where and when a batch root was anchored."""

    chain_id: int
    contract: str
    tx: str
    block: int
    block_hash: str
    timestamp: int
    anchorer: str

    def as_dict(self) -> dict[str, Any]:
        """The receipt as a JSON-ready dict (the fields of a journal `anchor` entry)."""
        return asdict(self)


@dataclass(frozen=True)
class OnChainAnchor:
    """What the chain says about one root."""

    anchored_at: int  # 0 when unknown
    events: list[dict[str, Any]]  # decoded EvidenceAnchored events of the recorded transaction


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex() if not isinstance(value, str) else value


class AnchorChain:
    """Read access to an `EvidenceAnchor` contract."""

    def __init__(self, rpc_url: str, contract: str, timeout_s: float = 30.0) -> None:
        self.rpc_url = rpc_url
        self.w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}))
        self.contract = self.w3.eth.contract(Web3.to_checksum_address(contract), abi=abi_of("EvidenceAnchor"))

    def chain_id(self) -> int:
        """The node's chain id.

        Raises:
            ChainUnavailableError: when the node does not answer.
        """
        try:
            return int(self.w3.eth.chain_id)
        except Exception as exc:  # transport errors of many kinds
            raise ChainUnavailableError(f"no answer from {self.rpc_url}: {exc}") from exc

    def anchored_at(self, root: bytes) -> int:
        """`anchoredAt(root)`: the block timestamp of the anchoring, 0 when the root is unknown."""
        return int(self.contract.functions.anchoredAt(root).call())

    def events_of_tx(self, tx: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The receipt of a transaction and the `EvidenceAnchored` events this contract emitted in it."""
        try:
            receipt = self.w3.eth.get_transaction_receipt(tx)  # type: ignore[arg-type]
        except Exception:
            return None, []
        events = [dict(e["args"]) | {"blockNumber": e["blockNumber"], "blockHash": _hex(e["blockHash"])}
                  for e in self.contract.events.EvidenceAnchored().process_receipt(receipt, errors=DISCARD)]
        return dict(receipt), events

    def block_hash(self, number: int) -> str | None:
        """The hash of block `number`, or None when the chain has no such block."""
        try:
            block = self.w3.eth.get_block(number)
        except Exception:  # BlockNotFound
            return None
        return _hex(block["hash"])

    def find_anchoring(self, root: bytes) -> dict[str, Any] | None:
        """The `EvidenceAnchored` log of a root (root is indexed), if any."""
        logs = self.w3.eth.get_logs({"address": self.contract.address, "fromBlock": 0, "toBlock": "latest",
                                     "topics": [ANCHORED_TOPIC, "0x" + root.hex()]})
        return dict(logs[0]) if logs else None


class EvidenceAnchorer(AnchorChain):
    """Anchors batch roots with a key that holds `ANCHOR_ROLE`.

    Args:
        rpc_url: The chain's JSON-RPC endpoint.
        contract: Address of `EvidenceAnchor`.
        private_key: The anchorer's key (hex).
        timeout_s: Timeout of one request, and of waiting for the receipt.
    """

    def __init__(self, rpc_url: str, contract: str, private_key: str, timeout_s: float = 30.0) -> None:
        super().__init__(rpc_url, contract, timeout_s)
        self.account = Account.from_key(private_key)
        self.timeout_s = timeout_s

    def _receipt_of(self, tx: str, block_number: int, chain_id: int) -> AnchorReceipt:
        block = self.w3.eth.get_block(block_number)
        return AnchorReceipt(
            chain_id=chain_id, contract=self.contract.address, tx=tx, block=block_number,
            block_hash=_hex(block["hash"]), timestamp=int(block["timestamp"]), anchorer=self.account.address,
        )

    def anchor(self, root: bytes, count: int, cid: str) -> AnchorReceipt:
        """Anchors a root (or finds its earlier anchoring) and waits for the receipt.

        Raises:
            ChainUnavailableError: when the node does not answer.
            AnchorError: when the transaction reverted or was not mined in time.
        """
        chain_id = self.chain_id()
        if self.anchored_at(root):
            earlier = self.find_anchoring(root)
            if earlier is None:
                raise AnchorError(f"root {root.hex()} is anchored, but its EvidenceAnchored event is not found")
            return self._receipt_of(_hex(earlier["transactionHash"]), int(earlier["blockNumber"]), chain_id)
        call = self.contract.functions.anchor(root, count, cid)
        sender = self.account.address
        try:
            gas = int(call.estimate_gas({"from": sender}) * 1.2) + 10_000
        except Exception as exc:
            raise AnchorError(f"the contract refuses the anchoring of {root.hex()}: {exc}") from exc
        base_fee = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0))
        tip = int(self.w3.eth.max_priority_fee) if base_fee else 0
        params: TxParams = {
            "from": sender, "nonce": self.w3.eth.get_transaction_count(sender, "pending"), "gas": gas,
            "chainId": chain_id, "maxFeePerGas": Wei(2 * base_fee + tip + 1), "maxPriorityFeePerGas": Wei(tip),
        }
        tx = call.build_transaction(params)
        signed = self.account.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                receipt = self.w3.eth.get_transaction_receipt(tx_hash)
                break
            except Exception:  # not mined yet
                if time.monotonic() > deadline:
                    raise AnchorError(f"anchoring transaction {_hex(tx_hash)} not mined in time") from None
                time.sleep(0.05)
        if receipt["status"] != 1:
            raise AnchorError(f"anchoring transaction {_hex(tx_hash)} reverted")
        return self._receipt_of(_hex(tx_hash), int(receipt["blockNumber"]), chain_id)


def anchorer_for(rpc_url: str, *, deployments_dir: Path, key: str = "", contract: str | None = None,
                 timeout_s: float = 30.0) -> EvidenceAnchorer:
    """The anchorer for a chain: the contract from `--contract` or the chain's deployment record, the key given
    (or, on the local dev chain only, anvil's account 4).

    Raises:
        ChainUnavailableError: when the node does not answer.
        DeploymentError: when no contract is given and the chain has no deployment record.
        AnchorError: when no key is given for a chain other than the local dev chain.
    """
    chain_id = AnchorChain(rpc_url, contract or "0x" + "00" * 20, timeout_s).chain_id()
    if contract is None:
        contract = load_deployment(deployments_dir, chain_id).address_of("EvidenceAnchor")
    if not key:
        if chain_id != DEV_CHAIN_ID:
            raise AnchorError(f"no anchorer key for chain {chain_id}: set TRACEMARK_ANCHORER_KEY")
        key = DEV_ANCHORER_KEY
    return EvidenceAnchorer(rpc_url, contract, key, timeout_s)
