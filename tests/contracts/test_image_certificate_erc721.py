"""ImageCertificate as an ERC-721: transfers, approvals, the holding counter, ERC-2981 and ERC-165."""

from __future__ import annotations

import pytest

from tests.contracts.support import ZERO_ADDRESS, interface_id, reverts

ERC165 = interface_id("supportsInterface(bytes4)")
ERC721 = interface_id(
    "balanceOf(address)",
    "ownerOf(uint256)",
    "safeTransferFrom(address,address,uint256,bytes)",
    "safeTransferFrom(address,address,uint256)",
    "transferFrom(address,address,uint256)",
    "approve(address,uint256)",
    "setApprovalForAll(address,bool)",
    "getApproved(uint256)",
    "isApprovedForAll(address,address)",
)
ERC721_METADATA = interface_id("name()", "symbol()", "tokenURI(uint256)")
ERC721_ENUMERABLE = interface_id("totalSupply()", "tokenOfOwnerByIndex(address,uint256)", "tokenByIndex(uint256)")
ERC2981 = interface_id("royaltyInfo(uint256,uint256)")
EIP4906 = bytes.fromhex("49064906")
ACCESS_CONTROL = interface_id(
    "hasRole(bytes32,address)",
    "getRoleAdmin(bytes32)",
    "grantRole(bytes32,address)",
    "revokeRole(bytes32,address)",
    "renounceRole(bytes32,address)",
)
ACCESS_CONTROL_DEFAULT_ADMIN_RULES = interface_id(
    "defaultAdmin()",
    "pendingDefaultAdmin()",
    "defaultAdminDelay()",
    "pendingDefaultAdminDelay()",
    "beginDefaultAdminTransfer(address)",
    "cancelDefaultAdminTransfer()",
    "acceptDefaultAdminTransfer()",
    "changeDefaultAdminDelay(uint48)",
    "rollbackDefaultAdminDelay()",
    "defaultAdminDelayIncreaseWait()",
)


def test_interface_ids_are_the_standard_ones():
    # The XORs above, against the ids the EIPs publish.
    assert (ERC165.hex(), ERC721.hex(), ERC721_METADATA.hex(), ERC2981.hex(), ACCESS_CONTROL.hex()) == (
        "01ffc9a7", "80ac58cd", "5b5e139f", "2a55205a", "7965db0b",
    )


@pytest.mark.parametrize(
    "interface",
    [ERC165, ERC721, ERC721_METADATA, ERC2981, EIP4906, ACCESS_CONTROL, ACCESS_CONTROL_DEFAULT_ADMIN_RULES],
    ids=["ERC165", "ERC721", "ERC721Metadata", "ERC2981", "EIP4906", "IAccessControl", "DefaultAdminRules"],
)
def test_supports_interface(certificate, interface):
    assert certificate.supportsInterface(interface) is True


@pytest.mark.parametrize(
    "interface",
    [bytes.fromhex("ffffffff"), bytes(4), ERC721_ENUMERABLE, interface_id("register(bytes,bytes)")],
    ids=["ffffffff", "zero", "ERC721Enumerable", "other"],
)
def test_does_not_claim_other_interfaces(certificate, interface):
    assert certificate.supportsInterface(interface) is False


def test_transfer_from_moves_the_certificate_and_counts_holdings(certificate, creator, buyer, register, event_args):
    token_id = register(creator)
    receipt = certificate.transferFrom(creator, buyer, token_id, sender=creator)

    assert certificate.ownerOf(token_id) == buyer.address
    assert (certificate.balanceOf(creator), certificate.balanceOf(buyer)) == (0, 1)
    assert tuple(certificate.standing(token_id)) == (buyer.address, 1, False)
    assert event_args(receipt, certificate.Transfer) == [
        {"from": creator.address, "to": buyer.address, "tokenId": token_id}
    ]
    # The creator recorded at registration does not change hands.
    assert certificate.registrationOf(token_id).creator == creator.address


def test_every_transfer_changes_the_holding_counter(certificate, creator, buyer, register):
    token_id = register(creator)
    certificate.transferFrom(creator, buyer, token_id, sender=creator)
    certificate.safeTransferFrom(buyer, creator, token_id, sender=buyer)
    certificate.safeTransferFrom(creator, buyer, token_id, b"with data", sender=creator)
    certificate.transferFrom(buyer, buyer, token_id, sender=buyer)  # even to oneself
    assert tuple(certificate.standing(token_id)) == (buyer.address, 4, False)


def test_approved_account_may_transfer_once(certificate, creator, buyer, relayer, register, event_args):
    token_id = register(creator)
    receipt = certificate.approve(relayer, token_id, sender=creator)
    assert event_args(receipt, certificate.Approval) == [
        {"owner": creator.address, "approved": relayer.address, "tokenId": token_id}
    ]
    assert certificate.getApproved(token_id) == relayer.address

    certificate.transferFrom(creator, buyer, token_id, sender=relayer)

    assert certificate.ownerOf(token_id) == buyer.address
    assert certificate.getApproved(token_id) == ZERO_ADDRESS
    with reverts(certificate.ERC721InsufficientApproval, operator=relayer, tokenId=token_id):
        certificate.transferFrom(buyer, relayer, token_id, sender=relayer)


def test_operator_may_transfer_all(certificate, creator, buyer, relayer, register, event_args):
    first, second = register(creator), register(creator)
    receipt = certificate.setApprovalForAll(relayer, True, sender=creator)
    assert event_args(receipt, certificate.ApprovalForAll) == [
        {"owner": creator.address, "operator": relayer.address, "approved": True}
    ]
    assert certificate.isApprovedForAll(creator, relayer) is True

    certificate.transferFrom(creator, buyer, first, sender=relayer)
    certificate.transferFrom(creator, buyer, second, sender=relayer)

    assert certificate.balanceOf(buyer) == 2
    certificate.setApprovalForAll(relayer, False, sender=creator)
    assert certificate.isApprovedForAll(creator, relayer) is False


def test_transfer_without_approval_is_refused(certificate, creator, relayer, register):
    token_id = register(creator)
    with reverts(certificate.ERC721InsufficientApproval, operator=relayer, tokenId=token_id):
        certificate.transferFrom(creator, relayer, token_id, sender=relayer)


def test_transfer_naming_the_wrong_owner_is_refused(certificate, creator, buyer, relayer, register):
    token_id = register(creator)
    with reverts(certificate.ERC721IncorrectOwner, sender=buyer, tokenId=token_id, owner=creator):
        certificate.transferFrom(buyer, relayer, token_id, sender=creator)


def test_transfer_to_the_zero_address_is_refused(certificate, creator, register):
    token_id = register(creator)
    with reverts(certificate.ERC721InvalidReceiver, receiver=ZERO_ADDRESS):
        certificate.transferFrom(creator, ZERO_ADDRESS, token_id, sender=creator)


def test_approval_errors(certificate, creator, relayer, register):
    token_id = register(creator)
    with reverts(certificate.ERC721InvalidApprover, approver=relayer):
        certificate.approve(relayer, token_id, sender=relayer)
    with reverts(certificate.ERC721InvalidOperator, operator=ZERO_ADDRESS):
        certificate.setApprovalForAll(ZERO_ADDRESS, True, sender=creator)
    with reverts(certificate.ERC721InvalidOwner, owner=ZERO_ADDRESS):
        certificate.balanceOf(ZERO_ADDRESS)
    with reverts(certificate.ERC721NonexistentToken, tokenId=token_id + 1):
        certificate.getApproved(token_id + 1)


def test_royalty_goes_to_the_creator_whoever_holds(certificate, creator, buyer, register):
    token_id = register(creator, royalty_bps=1234)
    certificate.transferFrom(creator, buyer, token_id, sender=creator)
    assert tuple(certificate.royaltyInfo(token_id, 10**18)) == (creator.address, 10**18 * 1234 // 10_000)
    assert tuple(certificate.royaltyInfo(token_id, 9_999)) == (creator.address, 9_999 * 1234 // 10_000)
    assert tuple(certificate.royaltyInfo(token_id, 0)) == (creator.address, 0)
