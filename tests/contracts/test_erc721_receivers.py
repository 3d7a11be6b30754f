"""ERC-721 receivers: how `safeTransferFrom` and the safe mint inside `register` treat contract recipients.

`contracts/test/ERC721ReceiverMock.sol` answers `onERC721Received` with the behaviour chosen at deployment.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import pytest

from tests.contracts.support import (
    PANIC_DIVISION_BY_ZERO,
    ZERO_ADDRESS,
    reverts,
    reverts_with_message,
    reverts_with_panic,
    selector,
)

ACCEPT, WRONG_VALUE, REVERT_WITH_MESSAGE, REVERT_WITH_CUSTOM_ERROR, REVERT_WITHOUT_MESSAGE, PANIC = range(6)
REJECTING = {
    "wrong value": WRONG_VALUE,
    "revert with message": REVERT_WITH_MESSAGE,
    "revert with custom error": REVERT_WITH_CUSTOM_ERROR,
    "revert without message": REVERT_WITHOUT_MESSAGE,
    "panic": PANIC,
}


@pytest.fixture(scope="module")
def receivers(project, admin):
    """One receiver per behaviour, deployed once for the module."""
    return [admin.deploy(project.ERC721ReceiverMock, behaviour) for behaviour in range(6)]


def expected_failure(certificate: Any, receiver: Any, behaviour: int, operator: Any, sender: Any,
                     token_id: int) -> AbstractContextManager[None]:
    """What the certificate must revert with when `receiver` refuses a token."""
    if behaviour in (WRONG_VALUE, REVERT_WITHOUT_MESSAGE):
        # A wrong answer, or a revert without data (as from a contract with no receiver hook), is the
        # certificate's own ERC721InvalidReceiver.
        return reverts(certificate.ERC721InvalidReceiver, receiver=receiver)
    if behaviour == REVERT_WITH_MESSAGE:
        return reverts_with_message("ERC721ReceiverMock: rejected")
    if behaviour == REVERT_WITH_CUSTOM_ERROR:
        # The receiver's own error bubbles up unchanged, with the values it was called with.
        return reverts(receiver.ERC721ReceiverMockRejected, operator=operator, **{"from": sender}, tokenId=token_id)
    assert behaviour == PANIC
    return reverts_with_panic(PANIC_DIVISION_BY_ZERO)


def test_mock_behaviours(receivers):
    assert [receiver.behaviour() for receiver in receivers] == list(range(6))
    assert bytes(receivers[WRONG_VALUE].WRONG_VALUE()) != selector("onERC721Received(address,address,uint256,bytes)")


@pytest.mark.parametrize("with_data", [False, True], ids=["without data", "with data"])
def test_safe_transfer_to_an_accepting_receiver(certificate, receivers, creator, buyer, register, event_args,
                                                with_data):
    token_id = register(creator)
    receiver = receivers[ACCEPT]
    # An approved operator sends, so that operator and from differ in the callback.
    certificate.approve(buyer, token_id, sender=creator)
    if with_data:
        receipt = certificate.safeTransferFrom(creator, receiver, token_id, b"licence terms", sender=buyer)
    else:
        receipt = certificate.safeTransferFrom(creator, receiver, token_id, sender=buyer)

    assert certificate.ownerOf(token_id) == receiver.address
    assert tuple(certificate.standing(token_id))[:2] == (receiver.address, 1)
    assert event_args(receipt, receiver.Received) == [{
        "operator": buyer.address,
        "from": creator.address,
        "tokenId": token_id,
        "data": b"licence terms" if with_data else b"",
    }]


@pytest.mark.parametrize("behaviour", REJECTING.values(), ids=REJECTING.keys())
@pytest.mark.parametrize("with_data", [False, True], ids=["without data", "with data"])
def test_safe_transfer_to_a_rejecting_receiver_reverts(certificate, receivers, creator, register, behaviour,
                                                       with_data):
    token_id = register(creator)
    receiver = receivers[behaviour]
    with expected_failure(certificate, receiver, behaviour, operator=creator, sender=creator, token_id=token_id):
        if with_data:
            certificate.safeTransferFrom(creator, receiver, token_id, b"\x01\x02", sender=creator)
        else:
            certificate.safeTransferFrom(creator, receiver, token_id, sender=creator)
    assert certificate.ownerOf(token_id) == creator.address
    assert tuple(certificate.standing(token_id))[:2] == (creator.address, 0)


@pytest.mark.parametrize("behaviour", REJECTING.values(), ids=REJECTING.keys())
def test_plain_transfer_does_not_ask_the_receiver(certificate, receivers, creator, register, behaviour):
    token_id = register(creator)
    certificate.transferFrom(creator, receivers[behaviour], token_id, sender=creator)
    assert certificate.ownerOf(token_id) == receivers[behaviour].address


def test_register_mints_to_an_accepting_receiver(certificate, receivers, relayer, make_registration, attest,
                                                 event_args):
    receiver = receivers[ACCEPT]
    registration = make_registration(receiver)
    receipt = certificate.register(registration.as_tuple(), attest(registration).to_bytes(), sender=relayer)

    assert certificate.ownerOf(registration.token_id) == receiver.address
    assert certificate.registrationOf(registration.token_id).creator == receiver.address
    # The mint's operator is whoever submitted the registration, and it comes from the zero address.
    assert event_args(receipt, receiver.Received) == [
        {"operator": relayer.address, "from": ZERO_ADDRESS, "tokenId": registration.token_id, "data": b""}
    ]


@pytest.mark.parametrize("behaviour", REJECTING.values(), ids=REJECTING.keys())
def test_register_to_a_rejecting_receiver_reverts_and_leaves_nothing(certificate, receivers, relayer,
                                                                    make_registration, attest, behaviour):
    receiver = receivers[behaviour]
    registration = make_registration(receiver)
    with expected_failure(certificate, receiver, behaviour, operator=relayer, sender=ZERO_ADDRESS,
                          token_id=registration.token_id):
        certificate.register(registration.as_tuple(), attest(registration).to_bytes(), sender=relayer)
    assert certificate.certificateOf(registration.content_hash) == 0
    assert tuple(certificate.standing(registration.token_id)) == (ZERO_ADDRESS, 0, False)
    assert certificate.balanceOf(receiver) == 0


def test_safe_transfer_to_a_contract_without_the_hook_reverts(certificate, cpy, creator, register):
    # CPY has code but no onERC721Received: the call reverts without data.
    token_id = register(creator)
    with reverts(certificate.ERC721InvalidReceiver, receiver=cpy):
        certificate.safeTransferFrom(creator, cpy, token_id, sender=creator)


def test_safe_transfer_to_an_account_without_code_succeeds(certificate, creator, stranger, register):
    token_id = register(creator)
    certificate.safeTransferFrom(creator, stranger, token_id, sender=creator)
    assert certificate.ownerOf(token_id) == stranger.address
