"""The application's statuses, their moves, the declaration text and the pending-duplicate rule."""

from __future__ import annotations

import pytest

from tracemark.domain.application import (
    HOLDS_IMAGE,
    Status,
    TransitionError,
    check_move,
    check_pending_duplicate,
    declaration_text,
    status_after_audit,
)
from tracemark.domain.registration import Outcome


@pytest.mark.parametrize(("current", "target"), [
    (None, Status.AUDIT_FAILED), (None, Status.IN_REVIEW), (None, Status.APPROVED),
    (Status.IN_REVIEW, Status.APPROVED), (Status.IN_REVIEW, Status.REJECTED), (Status.APPROVED, Status.PUBLISHED),
    (Status.PUBLISHED, Status.MINTING), (Status.PUBLISHED, Status.MINTED), (Status.MINTING, Status.MINTED),
    (Status.MINTING, Status.PUBLISHED), (Status.PUBLISHED, Status.PUBLISHED),
])
def test_allowed_moves(current: Status | None, target: Status) -> None:
    check_move(current, target)


@pytest.mark.parametrize(("current", "target"), [
    (None, Status.PUBLISHED), (None, Status.MINTED), (Status.AUDIT_FAILED, Status.IN_REVIEW),
    (Status.REJECTED, Status.APPROVED), (Status.MINTED, Status.REJECTED), (Status.IN_REVIEW, Status.PUBLISHED),
    (Status.APPROVED, Status.MINTED), (Status.MINTED, Status.PUBLISHED),
])
def test_refused_moves(current: Status | None, target: Status) -> None:
    with pytest.raises(TransitionError):
        check_move(current, target)


def test_audit_outcomes_and_held_images() -> None:
    assert [status_after_audit(o) for o in Outcome] == [Status.APPROVED, Status.IN_REVIEW, Status.AUDIT_FAILED]
    assert Status.AUDIT_FAILED not in HOLDS_IMAGE and Status.REJECTED not in HOLDS_IMAGE
    assert Status.MINTED in HOLDS_IMAGE and Status.IN_REVIEW in HOLDS_IMAGE


def test_the_declaration_names_image_title_creator_wallet_and_chain() -> None:
    text = declaration_text(sha256="ab" * 32, title="Dawn", creator_name="Jane", holder="0xAbC", chain_id=5)
    for part in ("ab" * 32, "Title: Dawn", "Creator: Jane", "Wallet: 0xAbC", "Chain ID: 5"):
        assert part in text
    assert declaration_text(sha256="ab" * 32, title="Dawn", creator_name="Jane", holder="0xAbC", chain_id=1) != text


def test_pending_duplicates() -> None:
    assert check_pending_duplicate(None, None, "0xa").outcome is Outcome.PASS
    own = check_pending_duplicate("r1", "0xA", "0xa")
    assert own.outcome is Outcome.FAIL and "r1" in own.reason
    other = check_pending_duplicate("r1", "0xb", "0xa")
    assert other.outcome is Outcome.FAIL and "r1" not in other.reason and other.details == {}
