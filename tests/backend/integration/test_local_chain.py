"""The deploy script, the API and the backend's EIP-712 signer against a real anvil node."""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

import pytest
from eth_account import Account
from fastapi.testclient import TestClient
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractCustomError

from tests.backend.conftest import ROOT, tool_env
from tracemark.api import create_app
from tracemark.chain.contracts import abi_of
from tracemark.chain.deployments import load_deployment
from tracemark.chain.eip712 import CERTIFICATE_DOMAIN, Domain, Registration, sign
from tracemark.config import Settings

pytestmark = pytest.mark.integration

# anvil's well-known development keys (mnemonic "test test ... junk"); the deploy script gives account 1 the
# verifier role on a development chain.
VERIFIER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
RELAYER_KEY = "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba"


def deploy(rpc_url: str, deployments_dir: Path) -> None:
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ape"), "run", "deploy", "--network", rpc_url],
        cwd=ROOT, env=tool_env() | {"TRACEMARK_DEPLOYMENTS_DIR": str(deployments_dir)},
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_deploy_records_contracts_that_the_api_serves(anvil: str, tmp_path: Path) -> None:
    deploy(anvil, tmp_path)
    deployment = load_deployment(tmp_path, 31337)
    w3 = Web3(HTTPProvider(anvil))
    for address in deployment.contracts.values():
        assert len(w3.eth.get_code(address)) > 0
    market = w3.eth.contract(deployment.address_of("LicenseMarket"), abi=abi_of("LicenseMarket"))
    assert market.functions.cpy().call() == deployment.address_of("CPYToken")
    assert market.functions.certificates().call() == deployment.address_of("ImageCertificate")
    assert market.functions.hasRole(market.functions.SETTLEMENT_ROLE().call(), deployment.roles["settlement"][0]).call()

    client = TestClient(create_app(Settings(rpc_url=anvil, deployments_dir=tmp_path)))
    body = client.get("/v1/contracts").json()
    assert body == {"chain_id": 31337, "deployment_block": deployment.block, "contracts": deployment.contracts}
    health = client.get("/health").json()
    assert health["status"] == "ok"
    assert health["deployment"] is True
    assert health["block_number"] >= deployment.block


def test_attestation_signed_by_the_backend_mints_to_the_creator(anvil: str, tmp_path: Path) -> None:
    deploy(anvil, tmp_path)
    deployment = load_deployment(tmp_path, 31337)
    w3 = Web3(HTTPProvider(anvil))
    certificate = w3.eth.contract(deployment.address_of("ImageCertificate"), abi=abi_of("ImageCertificate"))
    creator = Account.create().address
    relayer = Account.from_key(RELAYER_KEY)
    content = hashlib.sha256(b"original image bytes").digest()
    registration = Registration(
        creator=creator, contentHash=content, metadataDigest=hashlib.sha256(b"{}").digest(),
        fingerprint=b"\x07" * 32, royaltyBps=500, nonce=1, deadline=int(time.time()) + 3600,
    )
    domain = Domain(*CERTIFICATE_DOMAIN, chain_id=31337, verifying_contract=certificate.address)
    signature = sign(registration, domain, VERIFIER_KEY).signature

    tx = certificate.functions.register(tuple(vars(registration).values()), signature).build_transaction(
        {"from": relayer.address, "nonce": w3.eth.get_transaction_count(relayer.address)}
    )
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(relayer.sign_transaction(tx).raw_transaction)
    )
    assert receipt.status == 1
    token_id = int.from_bytes(content, "big")
    assert certificate.functions.ownerOf(token_id).call() == creator
    assert certificate.functions.certificateOf(content).call() == token_id

    # The same attestation signed for another chain id is refused by this contract.
    wrong_chain = sign(registration, Domain(*CERTIFICATE_DOMAIN, 1, certificate.address), VERIFIER_KEY).signature
    other = Registration(**(vars(registration) | {"contentHash": hashlib.sha256(b"other").digest()}))
    selector = Web3.keccak(text="CertificateInvalidAttestation(address)")[:4].hex()
    with pytest.raises(ContractCustomError) as refused:
        certificate.functions.register(tuple(vars(other).values()), wrong_chain).call({"from": relayer.address})
    assert selector in str(refused.value.data)
