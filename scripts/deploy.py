"""Deploys the Tracemark contracts, grants the roles and records the deployment.

    ape run deploy --network <network choice>

On a development chain (chain id 31337 or 1337) the deployer is the first test account and every role
defaults to a test account. Elsewhere the deployer is the Ape account whose alias `TRACEMARK_DEPLOYER_ALIAS`
names, and the admin, treasury and role holders must be set (`TRACEMARK_DEPLOY_*`, see tracemark.config).
The record is written to `deployments/<chain id>.json`, which the backend reads.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from ape import accounts, chain, project

from tracemark.chain.deployments import Deployment, save_deployment
from tracemark.config import Settings

DEV_CHAIN_IDS = {31337, 1337}
# Test accounts by role on a development chain (anvil's and Ape's shared test mnemonic).
DEV_ROLE_ACCOUNTS = {"verifier": 1, "settlement": 2, "dispute": 3, "anchor": 4, "treasury": 5}


def _deployer(chain_id: int):
    alias = os.environ.get("TRACEMARK_DEPLOYER_ALIAS")
    if alias:
        return accounts.load(alias)
    if chain_id not in DEV_CHAIN_IDS:
        raise SystemExit("TRACEMARK_DEPLOYER_ALIAS must name the deploying account outside a development chain")
    return accounts.test_accounts[0]


def _pick(configured: list[str] | str, chain_id: int, role: str) -> list[str]:
    values = [configured] if isinstance(configured, str) else list(configured)
    values = [v for v in values if v]
    if values:
        return values
    if chain_id not in DEV_CHAIN_IDS:
        raise SystemExit(f"no account configured for the {role} role (TRACEMARK_DEPLOY_*)")
    return [accounts.test_accounts[DEV_ROLE_ACCOUNTS[role]].address]


def main() -> None:
    settings = Settings()
    chain_id = chain.chain_id
    deployer = _deployer(chain_id)
    admin = settings.deploy_admin or deployer.address
    treasury = _pick(settings.deploy_treasury, chain_id, "treasury")[0]
    delay = settings.deploy_admin_delay_s
    first_block = chain.blocks.height + 1

    cpy = deployer.deploy(project.CPYToken, treasury, settings.deploy_cpy_supply)
    certificate = deployer.deploy(project.ImageCertificate, delay, deployer.address)
    market = deployer.deploy(
        project.LicenseMarket, cpy.address, certificate.address, treasury, settings.deploy_fee_bps, delay,
        deployer.address,
    )
    anchor = deployer.deploy(project.EvidenceAnchor, delay, deployer.address)

    roles = {
        "verifier": _pick(settings.deploy_verifiers, chain_id, "verifier"),
        "settlement": _pick(settings.deploy_settlement_signers, chain_id, "settlement"),
        "dispute": _pick(settings.deploy_dispute_agents, chain_id, "dispute"),
        "anchor": _pick(settings.deploy_anchorers, chain_id, "anchor"),
    }
    for account in roles["verifier"]:
        certificate.grantRole(certificate.VERIFIER_ROLE(), account, sender=deployer)
    for account in roles["dispute"]:
        certificate.grantRole(certificate.DISPUTE_ROLE(), account, sender=deployer)
    for account in roles["settlement"]:
        market.grantRole(market.SETTLEMENT_ROLE(), account, sender=deployer)
    for account in roles["anchor"]:
        anchor.grantRole(anchor.ANCHOR_ROLE(), account, sender=deployer)
    if admin.lower() != deployer.address.lower():
        # Two-step handover: the new admin accepts with acceptDefaultAdminTransfer() after the delay.
        for contract in (certificate, market, anchor):
            contract.beginDefaultAdminTransfer(admin, sender=deployer)

    deployment = Deployment(
        chain_id=chain_id,
        block=first_block,
        deployed_at=datetime.now(UTC),
        contracts={
            "CPYToken": cpy.address,
            "ImageCertificate": certificate.address,
            "LicenseMarket": market.address,
            "EvidenceAnchor": anchor.address,
        },
        roles={"admin": [admin], "treasury": [treasury], **roles},
    )
    path = save_deployment(settings.deployments_dir, deployment)
    print(f"deployed on chain {chain_id} from block {first_block}; recorded in {path}")
