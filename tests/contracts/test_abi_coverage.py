"""Keeps the suite honest as the contracts change: every function, custom error and event in the ABIs of the
four contracts is named by some contract test. A new function or error without a test fails here.

Inherited members that no code path of these contracts can reach are listed with the reason.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CONTRACTS = ["CPYToken", "ImageCertificate", "LicenseMarket", "EvidenceAnchor"]
TESTS = Path(__file__).parent

UNREACHABLE = {
    # ERC-20 internals guarded before they can fail: `_mint` happens once with a non-zero treasury check by
    # ERC20 itself, and no function moves tokens from or approves for the zero address.
    "ERC20InvalidSender": "no function sends from the zero address",
    "ERC20InvalidApprover": "no function approves for the zero address",
    "InvalidAccountNonce": "ERC20Permit uses unchecked nonces; only Nonces._useCheckedNonce raises it",
    # ShortStrings/EIP712: the names are constants shorter than 32 bytes.
    "InvalidShortString": "EIP-712 names are short constants",
    "StringTooLong": "EIP-712 names are short constants",
    "EIP712DomainChanged": "the EIP-712 domain never changes",
    # ERC-721 / ERC-2981 paths the certificate never takes.
    "ERC721InvalidSender": "register refuses a registered hash before _mint could",
    "ERC2981InvalidDefaultRoyalty": "royalties come from registrations, never from _setDefaultRoyalty",
    "ERC2981InvalidDefaultRoyaltyReceiver": "royalties come from registrations, never from _setDefaultRoyalty",
    "ERC2981InvalidTokenRoyalty": "royalties come from registrations, never from _setTokenRoyalty",
    "ERC2981InvalidTokenRoyaltyReceiver": "royalties come from registrations, never from _setTokenRoyalty",
    "BatchMetadataUpdate": "metadata is replaced one certificate at a time",
    # Access control internals.
    "RoleAdminChanged": "no contract changes a role's admin role",
    "SafeCastOverflowedUintDowncast": "admin delays and schedules fit 48 bits for any realistic delay",
    # A token that returns false instead of reverting; CPY reverts.
    "SafeERC20FailedOperation": "CPY reverts on failure instead of returning false",
}


def _test_sources() -> str:
    return "\n".join(path.read_text() for path in sorted(TESTS.glob("test_*.py")) if path.name != Path(__file__).name)


@pytest.mark.parametrize("name", CONTRACTS)
def test_every_abi_member_is_exercised(project, name):
    sources = _test_sources()
    contract_type = getattr(project, name).contract_type
    members = {item.name for item in contract_type.abi if item.type in ("function", "error", "event")}
    untested = sorted(
        member for member in members
        if member not in UNREACHABLE and not re.search(rf"\b{re.escape(member)}\b", sources)
    )
    assert untested == []
