"""CPY: ERC-20 with EIP-2612 permits, 18 decimals, a fixed supply minted once to the treasury."""

from __future__ import annotations

from tests.contracts.signing import cpy_domain, domain_separator
from tests.contracts.support import (
    CPY_SUPPLY,
    ONE_CPY,
    UINT256_MAX,
    ZERO_ADDRESS,
    reverts,
    single,
)


def test_name_symbol_and_decimals(cpy):
    assert cpy.name() == "Tracemark Copyright"
    assert cpy.symbol() == "CPY"
    assert cpy.decimals() == 18


def test_whole_supply_is_minted_once_to_the_treasury(project, chain, admin, treasury):
    token = admin.deploy(project.CPYToken, treasury, 7 * ONE_CPY)
    receipt = chain.get_receipt(token.txn_hash)

    assert token.totalSupply() == 7 * ONE_CPY
    assert token.balanceOf(treasury) == 7 * ONE_CPY
    assert token.balanceOf(admin) == 0
    transfer = single(receipt.events.filter(token.Transfer))
    assert dict(transfer.event_arguments) == {"from": ZERO_ADDRESS, "to": treasury.address, "value": 7 * ONE_CPY}


def test_supply_of_zero_is_refused(project, admin, treasury):
    with reverts(project.CPYToken.CPYInvalidSupply):
        admin.deploy(project.CPYToken, treasury, 0)


def test_there_is_no_way_to_mint_or_burn(cpy):
    functions = {abi.name for abi in cpy.contract_type.abi if abi.type == "function"}
    assert not {name for name in functions if "mint" in name.lower() or "burn" in name.lower()}
    mutable = {
        abi.name
        for abi in cpy.contract_type.abi
        if abi.type == "function" and abi.stateMutability not in ("view", "pure")
    }
    # The only ways to change state: move tokens and set allowances.
    assert mutable == {"transfer", "transferFrom", "approve", "permit"}


def test_supply_stays_fixed_while_tokens_move(cpy, treasury, buyer, relayer, permit_for):
    cpy.transfer(relayer, 5 * ONE_CPY, sender=buyer)
    cpy.approve(relayer, UINT256_MAX, sender=treasury)
    cpy.transferFrom(treasury, buyer, 9 * ONE_CPY, sender=relayer)
    permit, signature = permit_for(buyer, relayer, ONE_CPY)
    cpy.permit(buyer, relayer, ONE_CPY, permit.deadline, signature.v, signature.r_bytes, signature.s_bytes,
               sender=relayer)
    assert cpy.totalSupply() == CPY_SUPPLY


def test_transfer_moves_tokens_and_emits_transfer(cpy, buyer, relayer, event_args):
    before = cpy.balanceOf(buyer)
    receipt = cpy.transfer(relayer, 3 * ONE_CPY, sender=buyer)

    assert cpy.balanceOf(buyer) == before - 3 * ONE_CPY
    assert cpy.balanceOf(relayer) == 3 * ONE_CPY
    assert event_args(receipt, cpy.Transfer) == [{"from": buyer.address, "to": relayer.address, "value": 3 * ONE_CPY}]


def test_transfer_above_balance_is_refused(cpy, relayer, stranger):
    with reverts(cpy.ERC20InsufficientBalance, sender=stranger, balance=0, needed=1):
        cpy.transfer(relayer, 1, sender=stranger)


def test_transfer_to_zero_address_is_refused(cpy, buyer):
    with reverts(cpy.ERC20InvalidReceiver, receiver=ZERO_ADDRESS):
        cpy.transfer(ZERO_ADDRESS, 1, sender=buyer)


def test_approve_then_transfer_from_spends_the_allowance(cpy, buyer, relayer, stranger, event_args):
    approval = cpy.approve(relayer, 10 * ONE_CPY, sender=buyer)
    assert event_args(approval, cpy.Approval) == [
        {"owner": buyer.address, "spender": relayer.address, "value": 10 * ONE_CPY}
    ]

    receipt = cpy.transferFrom(buyer, stranger, 4 * ONE_CPY, sender=relayer)

    assert cpy.allowance(buyer, relayer) == 6 * ONE_CPY
    assert cpy.balanceOf(stranger) == 4 * ONE_CPY
    assert event_args(receipt, cpy.Transfer) == [{"from": buyer.address, "to": stranger.address, "value": 4 * ONE_CPY}]


def test_unlimited_allowance_is_not_spent(cpy, buyer, relayer):
    cpy.approve(relayer, UINT256_MAX, sender=buyer)
    cpy.transferFrom(buyer, relayer, ONE_CPY, sender=relayer)
    assert cpy.allowance(buyer, relayer) == UINT256_MAX


def test_transfer_from_above_allowance_is_refused(cpy, buyer, relayer):
    cpy.approve(relayer, 2, sender=buyer)
    with reverts(cpy.ERC20InsufficientAllowance, spender=relayer, allowance=2, needed=3):
        cpy.transferFrom(buyer, relayer, 3, sender=relayer)


def test_approving_the_zero_address_is_refused(cpy, buyer):
    with reverts(cpy.ERC20InvalidSpender, spender=ZERO_ADDRESS):
        cpy.approve(ZERO_ADDRESS, 1, sender=buyer)


def test_permit_submitted_by_anyone_sets_the_allowance(cpy, buyer, relayer, permit_for, event_args):
    permit, signature = permit_for(buyer, relayer, 42 * ONE_CPY)
    assert cpy.nonces(buyer) == 0

    receipt = cpy.permit(buyer, relayer, 42 * ONE_CPY, permit.deadline, signature.v, signature.r_bytes,
                         signature.s_bytes, sender=relayer)

    assert cpy.allowance(buyer, relayer) == 42 * ONE_CPY
    assert cpy.nonces(buyer) == 1
    assert event_args(receipt, cpy.Approval) == [
        {"owner": buyer.address, "spender": relayer.address, "value": 42 * ONE_CPY}
    ]


def test_permit_with_a_signature_from_another_key_is_refused(cpy, buyer, relayer, stranger, permit_for):
    permit, signature = permit_for(buyer, relayer, ONE_CPY, signer=stranger)
    with reverts(cpy.ERC2612InvalidSigner, signer=stranger, owner=buyer):
        cpy.permit(buyer, relayer, ONE_CPY, permit.deadline, signature.v, signature.r_bytes, signature.s_bytes,
                   sender=relayer)
    assert cpy.allowance(buyer, relayer) == 0


def test_domain_separator_and_eip712_domain(chain, cpy):
    domain = cpy_domain(chain.chain_id, cpy.address)
    assert bytes(cpy.DOMAIN_SEPARATOR()) == domain_separator(domain)
    fields, name, version, chain_id, verifying_contract, salt, extensions = cpy.eip712Domain()
    assert bytes(fields) == b"\x0f"
    assert (name, version, chain_id, verifying_contract) == ("Tracemark Copyright", "1", chain.chain_id, cpy.address)
    assert bytes(salt) == b"\x00" * 32
    assert list(extensions) == []
