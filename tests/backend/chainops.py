"""Drives a development chain (anvil) through real Tracemark activity, fast, for the indexer tests and benchmark.

Transactions go out as JSON-RPC batches of `eth_sendTransaction` from anvil's unlocked test accounts (no local
signing), with explicit nonces and gas limits (no estimation). Attestations and settlement quotes are signed with
the backend's own EIP-712 signer, by the test accounts the deploy script gives those roles on a dev chain.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from web3 import Web3

from tracemark.chain.contracts import abi_of
from tracemark.chain.deployments import Deployment
from tracemark.chain.eip712 import CERTIFICATE_DOMAIN, MARKET_DOMAIN, Domain, Registration, SettlementQuote, sign

# Keys of anvil's test accounts 1 and 2 (mnemonic "test test ... junk"), which scripts/deploy.py makes the
# verifier and the settlement signer on a dev chain. Every other account is used through anvil's unlocked
# accounts (`eth_accounts`), without keys.
VERIFIER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
SETTLER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
CPY = 10**18
GAS = {"register": 250_000, "transfer": 120_000, "offer": 120_000, "withdraw": 80_000, "buy": 200_000,
       "settle": 250_000, "anchor": 150_000, "approve": 80_000, "cpy": 80_000, "dispute": 150_000}


class RpcFailedError(Exception):
    """A JSON-RPC call of the driver failed."""


@dataclass
class DevChain:
    """A deployed dev chain and the operations the tests need. Keeps nonces and the certificates it made."""

    url: str
    deployment: Deployment
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def __post_init__(self) -> None:
        self.http = httpx.Client(timeout=120)
        w3 = Web3()
        self.cert = w3.eth.contract(self.deployment.address_of("ImageCertificate"), abi=abi_of("ImageCertificate"))
        self.market = w3.eth.contract(self.deployment.address_of("LicenseMarket"), abi=abi_of("LicenseMarket"))
        self.cpy = w3.eth.contract(self.deployment.address_of("CPYToken"), abi=abi_of("CPYToken"))
        self.anchor_contract = w3.eth.contract(
            self.deployment.address_of("EvidenceAnchor"), abi=abi_of("EvidenceAnchor")
        )
        chain_id = self.deployment.chain_id
        self.cert_domain = Domain(*CERTIFICATE_DOMAIN, chain_id=chain_id, verifying_contract=self.cert.address)
        self.market_domain = Domain(*MARKET_DOMAIN, chain_id=chain_id, verifying_contract=self.market.address)
        self.nonces: dict[str, int] = {}
        self.counter = itertools.count(int(time.time() * 1000) % 10**9)
        self.certificates: dict[int, str] = {}  # token -> holder as this driver believes
        self.pending: list[dict[str, Any]] = []
        self.funded: set[str] = set()
        self.offer_durations: dict[tuple[int, int], int] = {}
        accounts = [Web3.to_checksum_address(a) for a in self.rpc("eth_accounts")]
        roles = self.deployment.roles
        self.deployer = accounts[0]
        self.treasury = Web3.to_checksum_address(roles["treasury"][0])
        self.disputer = Web3.to_checksum_address(roles["dispute"][0])
        self.anchorer = Web3.to_checksum_address(roles["anchor"][0])
        self.users = accounts[6:10]

    # ---- raw JSON-RPC --------------------------------------------------------------------------------------

    def rpc(self, method: str, params: Sequence[Any] = ()) -> Any:
        body = self.http.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        answer = body.json()
        if answer.get("error"):
            raise RpcFailedError(f"{method}: {answer['error']}")
        return answer["result"]

    def batch(self, method: str, params: Sequence[Sequence[Any]]) -> list[Any]:
        out: list[Any] = []
        for start in range(0, len(params), 500):
            chunk = params[start : start + 500]
            payload = [{"jsonrpc": "2.0", "id": i, "method": method, "params": list(p)} for i, p in enumerate(chunk)]
            answers = sorted(self.http.post(self.url, json=payload).json(), key=lambda a: a["id"])
            for answer in answers:
                if answer.get("error"):
                    raise RpcFailedError(f"{method}: {answer['error']}")
                out.append(answer["result"])
        return out

    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", [hex(blocks)])

    def set_automine(self, on: bool) -> None:
        self.rpc("evm_setAutomine", [on])

    def resync_nonces(self) -> None:
        """Reads every sender's nonce again (after a reorg or a revert the chain forgot transactions)."""
        self.nonces.clear()

    def _nonce(self, sender: str) -> int:
        if sender not in self.nonces:
            self.nonces[sender] = int(self.rpc("eth_getTransactionCount", [sender, "pending"]), 16)
        nonce = self.nonces[sender]
        self.nonces[sender] = nonce + 1
        return nonce

    # ---- queueing transactions -----------------------------------------------------------------------------

    def _queue(self, sender: str, to: str, data: str, gas: int) -> dict[str, Any]:
        tx = {"from": sender, "to": to, "data": data, "gas": hex(gas), "nonce": hex(self._nonce(sender)),
              "maxFeePerGas": hex(10**10), "maxPriorityFeePerGas": hex(1)}
        self.pending.append(tx)
        return tx

    def flush(self) -> list[str]:
        """Sends every queued transaction in JSON-RPC batches; returns their hashes."""
        txs, self.pending = self.pending, []
        return [str(h) for h in self.batch("eth_sendTransaction", [[tx] for tx in txs])]

    def take(self) -> list[dict[str, Any]]:
        """The queued transactions, without sending them (for `anvil_reorg`)."""
        txs, self.pending = self.pending, []
        return txs

    def receipts_ok(self, hashes: Sequence[str], timeout_s: float = 30) -> int:
        """How many of the transactions succeeded, once each is mined (anvil may answer before it mines)."""
        deadline = time.monotonic() + timeout_s
        while True:
            receipts = self.batch("eth_getTransactionReceipt", [[h] for h in hashes])
            if all(r is not None for r in receipts) or time.monotonic() > deadline:
                return sum(1 for r in receipts if r is not None and r["status"] == "0x1")
            time.sleep(0.05)

    # ---- operations ----------------------------------------------------------------------------------------

    def new_content(self) -> bytes:
        return hashlib.sha256(f"image {next(self.counter)} {self.rng.random()}".encode()).digest()

    def register(self, creator: str, relayer: str | None = None, content: bytes | None = None,
                 metadata_digest: bytes | None = None, fingerprint: bytes | None = None) -> int:
        content = content or self.new_content()
        registration = Registration(
            creator=creator, contentHash=content,
            metadataDigest=metadata_digest or hashlib.sha256(content + b"meta").digest(),
            fingerprint=fingerprint or hashlib.sha256(content + b"fp").digest(), royaltyBps=500,
            nonce=next(self.counter), deadline=2**40,
        )
        signature = sign(registration, self.cert_domain, VERIFIER_KEY).signature
        data = self.cert.encode_abi("register", args=[tuple(vars(registration).values()), signature])
        self._queue(relayer or self.deployer, self.cert.address, data, GAS["register"])
        token = int.from_bytes(content, "big")
        self.certificates[token] = creator
        return token

    def transfer(self, token: int, sender: str, receiver: str) -> None:
        data = self.cert.encode_abi("transferFrom", args=[sender, receiver, token])
        self._queue(sender, self.cert.address, data, GAS["transfer"])
        self.certificates[token] = receiver

    def set_offer(self, token: int, holder: str, kind: int = 1, price: int = 5 * CPY, duration: int = 86_400) -> None:
        data = self.market.encode_abi("setOffer", args=[token, kind, price, duration])
        self.offer_durations[(token, kind)] = duration
        self._queue(holder, self.market.address, data, GAS["offer"])

    def withdraw_offer(self, token: int, holder: str, kind: int = 1) -> None:
        data = self.market.encode_abi("withdrawOffer", args=[token, kind])
        self._queue(holder, self.market.address, data, GAS["withdraw"])

    def fund(self, buyer: str, amount: int = 10**6 * CPY) -> None:
        """Gives a buyer CPY from the treasury and an unlimited allowance for the market."""
        if buyer in self.funded:
            return
        self._queue(self.treasury, self.cpy.address, self.cpy.encode_abi("transfer", args=[buyer, amount]), GAS["cpy"])
        self._queue(buyer, self.cpy.address, self.cpy.encode_abi("approve", args=[self.market.address, 2**255]),
                    GAS["approve"])
        self.funded.add(buyer)

    def buy(self, token: int, buyer: str, licensee: str | None = None, kind: int = 1,
            max_price: int = 10**6 * CPY) -> None:
        """Buys at most at `max_price`, for the duration this driver last offered (the buyer's guard)."""
        duration = self.offer_durations.get((token, kind), 86_400)
        data = self.market.encode_abi("buyLicence", args=[token, kind, licensee or buyer, max_price, duration])
        self._queue(buyer, self.market.address, data, GAS["buy"])

    def settle(self, token: int, payer: str, amount: int = 50 * CPY, share_bps: int = 7000, kind: int = 2,
               case_id: bytes | None = None) -> bytes:
        case_id = case_id or hashlib.sha256(f"case {next(self.counter)}".encode()).digest()
        quote = SettlementQuote(caseId=case_id, certificateId=token, payer=payer, amount=amount,
                                holderShareBps=share_bps, kind=kind, licenceDuration=365 * 86_400, deadline=2**40)
        signature = sign(quote, self.market_domain, SETTLER_KEY).signature
        data = self.market.encode_abi("settleClaim", args=[tuple(vars(quote).values()), signature])
        self._queue(payer, self.market.address, data, GAS["settle"])
        return case_id

    def anchor(self, root: bytes | None = None, count: int = 3, cid: str = "") -> bytes:
        root = root or hashlib.sha256(f"root {next(self.counter)}".encode()).digest()
        cid = cid or "bafkrei" + hashlib.sha256(root).hexdigest()[:52]
        data = self.anchor_contract.encode_abi("anchor", args=[root, count, cid])
        self._queue(self.anchorer, self.anchor_contract.address, data, GAS["anchor"])
        return root

    def dispute(self, token: int, cid: str = "bafkreidispute") -> None:
        data = self.cert.encode_abi("flagDisputed", args=[token, cid])
        self._queue(self.disputer, self.cert.address, data, GAS["dispute"])

    def clear_dispute(self, token: int, cid: str = "bafkreiresolved") -> None:
        data = self.cert.encode_abi("clearDispute", args=[token, cid])
        self._queue(self.disputer, self.cert.address, data, GAS["dispute"])

    # ---- a mix ---------------------------------------------------------------------------------------------

    def random_activity(self, operations: int) -> None:
        """Queues about `operations` random operations of every kind (some may revert: e.g. a transfer of a
        certificate a reorg took away); registers new certificates as it goes."""
        for buyer in self.users:
            self.fund(buyer)
        for _ in range(operations):
            roll = self.rng.random()
            tokens = list(self.certificates)
            if roll < 0.25 or len(tokens) < 3:
                token = self.register(self.rng.choice(self.users))
                self.set_offer(token, self.certificates[token], kind=self.rng.choice([1, 2]),
                               price=self.rng.randint(1, 20) * CPY)
                continue
            token = self.rng.choice(tokens[-40:])
            holder = self.certificates[token]
            other = self.rng.choice([u for u in self.users if u != holder])
            if roll < 0.40:
                self.transfer(token, holder, other)
            elif roll < 0.50:
                self.set_offer(token, holder, kind=self.rng.choice([1, 2, 3]), price=self.rng.randint(1, 9) * CPY)
            elif roll < 0.55:
                self.withdraw_offer(token, holder, kind=self.rng.choice([1, 2]))
            elif roll < 0.75:
                self.buy(token, other, kind=self.rng.choice([1, 2]))
            elif roll < 0.83:
                self.settle(token, other)
            elif roll < 0.93:
                self.anchor()
            elif roll < 0.97:
                self.dispute(token)
            else:
                self.clear_dispute(token)


def start_anvil(anvil_bin: str, port: int, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [anvil_bin, "--host", "127.0.0.1", "--port", str(port), "--silent", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def load_state(url: str, state: str) -> None:
    answer = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "anvil_loadState", "params": [state]},
                        timeout=60).json()
    assert answer.get("result") is True, answer


def dump_state(url: str) -> str:
    answer = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "anvil_dumpState", "params": []},
                        timeout=60).json()
    return str(answer["result"])


def deploy(rpc_url: str, deployments_dir: Path, root: Path, env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(root / ".venv" / "bin" / "ape"), "run", "deploy", "--network", rpc_url],
        cwd=root, env=env | {"TRACEMARK_DEPLOYMENTS_DIR": str(deployments_dir)},
        capture_output=True, text=True, timeout=300, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stdout[-2000:] + result.stderr[-2000:])


def chunked(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
