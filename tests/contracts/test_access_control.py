"""Roles and the two-step admin handover (AccessControlDefaultAdminRules) on every contract that has roles."""

from __future__ import annotations

import pytest

from tests.contracts.support import (
    ADMIN_DELAY,
    DAY,
    DEFAULT_ADMIN_ROLE,
    ZERO_ADDRESS,
    as_bytes,
    block_timestamp,
    reverts,
    role_hash,
)

# The operational role of each contract, by its constant's name.
ROLES = {"certificate": "VERIFIER_ROLE", "market": "SETTLEMENT_ROLE", "evidence_anchor": "ANCHOR_ROLE"}


@pytest.fixture(params=sorted(ROLES))
def ruled(request, certificate, market, evidence_anchor):
    """(contract, name of its operational role)."""
    # All three are requested statically: a session fixture first built through `getfixturevalue` inside a test
    # would be deployed inside that test's snapshot and vanish when Ape reverts it.
    contracts = {"certificate": certificate, "market": market, "evidence_anchor": evidence_anchor}
    return contracts[request.param], ROLES[request.param]


def test_initial_admin(ruled, admin):
    contract, role_name = ruled
    assert contract.defaultAdmin() == admin.address
    assert contract.owner() == admin.address
    assert contract.defaultAdminDelay() == ADMIN_DELAY
    assert contract.hasRole(DEFAULT_ADMIN_ROLE, admin) is True
    assert tuple(contract.pendingDefaultAdmin()) == (ZERO_ADDRESS, 0)
    assert as_bytes(getattr(contract, role_name)()) == role_hash(role_name)
    assert as_bytes(contract.getRoleAdmin(role_hash(role_name))) == DEFAULT_ADMIN_ROLE


def test_admin_grants_and_revokes_roles(ruled, admin, stranger, event_args):
    contract, role_name = ruled
    role = role_hash(role_name)
    granted = contract.grantRole(role, stranger, sender=admin)
    assert contract.hasRole(role, stranger) is True
    assert event_args(granted, contract.RoleGranted) == [{"role": role, "account": stranger.address,
                                                          "sender": admin.address}]

    revoked = contract.revokeRole(role, stranger, sender=admin)
    assert contract.hasRole(role, stranger) is False
    assert event_args(revoked, contract.RoleRevoked) == [{"role": role, "account": stranger.address,
                                                          "sender": admin.address}]


def test_only_the_admin_grants_roles(ruled, stranger, relayer):
    contract, role_name = ruled
    with reverts(contract.AccessControlUnauthorizedAccount, account=stranger, neededRole=DEFAULT_ADMIN_ROLE):
        contract.grantRole(role_hash(role_name), relayer, sender=stranger)


def test_holder_may_renounce_its_own_role_only(ruled, admin, stranger, relayer, event_args):
    contract, role_name = ruled
    role = role_hash(role_name)
    contract.grantRole(role, stranger, sender=admin)
    with reverts(contract.AccessControlBadConfirmation):
        contract.renounceRole(role, stranger, sender=relayer)
    receipt = contract.renounceRole(role, stranger, sender=stranger)
    assert contract.hasRole(role, stranger) is False
    assert event_args(receipt, contract.RoleRevoked) == [{"role": role, "account": stranger.address,
                                                          "sender": stranger.address}]


def test_admin_role_is_not_granted_or_revoked_directly(ruled, admin, stranger):
    contract, _ = ruled
    with reverts(contract.AccessControlEnforcedDefaultAdminRules):
        contract.grantRole(DEFAULT_ADMIN_ROLE, stranger, sender=admin)
    with reverts(contract.AccessControlEnforcedDefaultAdminRules):
        contract.revokeRole(DEFAULT_ADMIN_ROLE, admin, sender=admin)
    assert contract.defaultAdmin() == admin.address


def test_admin_handover_takes_two_steps_and_the_delay(chain, ruled, admin, stranger, relayer, event_args):
    contract, role_name = ruled
    begun = contract.beginDefaultAdminTransfer(stranger, sender=admin)
    schedule = block_timestamp(chain, begun) + ADMIN_DELAY
    assert event_args(begun, contract.DefaultAdminTransferScheduled) == [
        {"newAdmin": stranger.address, "acceptSchedule": schedule}
    ]
    assert tuple(contract.pendingDefaultAdmin()) == (stranger.address, schedule)
    # Nothing changes until the new admin accepts after the delay.
    assert contract.defaultAdmin() == admin.address

    with reverts(contract.AccessControlEnforcedDefaultAdminDelay, schedule=schedule):
        contract.acceptDefaultAdminTransfer(sender=stranger)
    chain.pending_timestamp = schedule  # the schedule must have passed, not just been reached
    with reverts(contract.AccessControlEnforcedDefaultAdminDelay, schedule=schedule):
        contract.acceptDefaultAdminTransfer(sender=stranger)

    chain.pending_timestamp = schedule + 1
    with reverts(contract.AccessControlInvalidDefaultAdmin, defaultAdmin=relayer):
        contract.acceptDefaultAdminTransfer(sender=relayer)
    accepted = contract.acceptDefaultAdminTransfer(sender=stranger)

    assert contract.defaultAdmin() == stranger.address
    assert contract.hasRole(DEFAULT_ADMIN_ROLE, admin) is False
    assert tuple(contract.pendingDefaultAdmin()) == (ZERO_ADDRESS, 0)
    assert [log.event_name for log in accepted.events] == ["RoleRevoked", "RoleGranted"]
    # The old admin lost its powers, the new one has them.
    role = role_hash(role_name)
    with reverts(contract.AccessControlUnauthorizedAccount, account=admin, neededRole=DEFAULT_ADMIN_ROLE):
        contract.grantRole(role, relayer, sender=admin)
    contract.grantRole(role, relayer, sender=stranger)
    assert contract.hasRole(role, relayer) is True


def test_only_the_admin_begins_a_handover(ruled, stranger):
    contract, _ = ruled
    with reverts(contract.AccessControlUnauthorizedAccount, account=stranger, neededRole=DEFAULT_ADMIN_ROLE):
        contract.beginDefaultAdminTransfer(stranger, sender=stranger)


def test_cancelled_handover_cannot_be_accepted(chain, ruled, admin, stranger, event_args):
    contract, _ = ruled
    contract.beginDefaultAdminTransfer(stranger, sender=admin)
    cancelled = contract.cancelDefaultAdminTransfer(sender=admin)
    assert [log.event_name for log in cancelled.events] == ["DefaultAdminTransferCanceled"]
    chain.pending_timestamp = chain.pending_timestamp + ADMIN_DELAY + 1
    with reverts(contract.AccessControlInvalidDefaultAdmin, defaultAdmin=stranger):
        contract.acceptDefaultAdminTransfer(sender=stranger)
    assert contract.defaultAdmin() == admin.address


def test_admin_delay_change_is_scheduled_and_can_be_rolled_back(chain, ruled, admin, event_args):
    contract, _ = ruled
    assert contract.defaultAdminDelayIncreaseWait() == 5 * DAY
    receipt = contract.changeDefaultAdminDelay(DAY, sender=admin)
    # Shortening the delay waits for the difference, so a handover cannot be rushed.
    effect = block_timestamp(chain, receipt) + ADMIN_DELAY - DAY
    assert event_args(receipt, contract.DefaultAdminDelayChangeScheduled) == [
        {"newDelay": DAY, "effectSchedule": effect}
    ]
    assert tuple(contract.pendingDefaultAdminDelay()) == (DAY, effect)
    assert contract.defaultAdminDelay() == ADMIN_DELAY

    rolled_back = contract.rollbackDefaultAdminDelay(sender=admin)
    assert [log.event_name for log in rolled_back.events] == ["DefaultAdminDelayChangeCanceled"]
    assert tuple(contract.pendingDefaultAdminDelay()) == (0, 0)

    contract.changeDefaultAdminDelay(DAY, sender=admin)
    chain.pending_timestamp = chain.pending_timestamp + ADMIN_DELAY
    chain.mine()
    assert contract.defaultAdminDelay() == DAY
