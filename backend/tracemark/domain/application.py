"""An application to register an image: its statuses and their order, the declaration of authorship the applicant
signs, and the rule for an image another application already holds.

Statuses and the moves between them (every move is recorded with who made it and why):

    (new) --audit fails--------------------------------------------> audit_failed
    (new) --a check asks for review---------> in_review --reject---> rejected
    (new) --every check passes--> approved <--approve-- in_review
    approved --metadata pinned, attestation signed--> published --transaction sent--> minting --> minted
    published --the chain shows the certificate (the wallet sent it)--------------------------> minted
    minting --the transaction failed--> published (a new attestation may be asked for)

An application *holds* its image from review until it is minted, so that no second application for the same
image can pass while the first is pending; a failed or rejected application lets go of it.
"""

from __future__ import annotations

from enum import StrEnum

from tracemark.domain.registration import CheckResult, Outcome


class Status(StrEnum):
    """Where an application stands."""

    AUDIT_FAILED = "audit_failed"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    PUBLISHED = "published"
    MINTING = "minting"
    MINTED = "minted"


HOLDS_IMAGE = frozenset({Status.IN_REVIEW, Status.APPROVED, Status.PUBLISHED, Status.MINTING, Status.MINTED})
"""Statuses in which an application holds its image against every other application."""

_MOVES: dict[Status | None, frozenset[Status]] = {
    None: frozenset({Status.AUDIT_FAILED, Status.IN_REVIEW, Status.APPROVED}),
    Status.IN_REVIEW: frozenset({Status.APPROVED, Status.REJECTED}),
    Status.APPROVED: frozenset({Status.PUBLISHED}),
    Status.PUBLISHED: frozenset({Status.PUBLISHED, Status.MINTING, Status.MINTED}),
    Status.MINTING: frozenset({Status.MINTED, Status.PUBLISHED}),
    Status.AUDIT_FAILED: frozenset(),
    Status.REJECTED: frozenset(),
    Status.MINTED: frozenset({Status.MINTED}),  # stays minted; its record may be completed (the transaction)
}


class TransitionError(ValueError):
    """A move the workflow does not allow (e.g. approving a minted application)."""


def check_move(current: Status | None, target: Status) -> None:
    """Raises TransitionError unless an application may move from `current` to `target`."""
    if target not in _MOVES[current]:
        where = current.value if current else "a new application"
        raise TransitionError(f"an application cannot go from {where} to {target.value}")


def status_after_audit(outcome: Outcome) -> Status:
    """fail -> audit_failed; review -> in_review (a caseworker decides); pass -> approved (by the audit itself)."""
    return {Outcome.FAIL: Status.AUDIT_FAILED, Outcome.REVIEW: Status.IN_REVIEW, Outcome.PASS: Status.APPROVED}[outcome]


def declaration_text(*, sha256: str, title: str, creator_name: str, holder: str, chain_id: int) -> str:
    """The declaration of authorship the applicant signs with the wallet that will hold the certificate (EIP-191).

    It names the image by its SHA-256, the title and creator as declared, the wallet and the chain, so a signature
    cannot be reused for another image, another name, another wallet or another chain.
    """
    creator = creator_name or "(no name given)"
    return (
        "Tracemark declaration of authorship\n\n"
        f"I declare that I am the author of this image, or hold the rights to register it, and that the wallet "
        f"below will hold its certificate.\n\n"
        f"Image SHA-256: {sha256}\n"
        f"Title: {title}\n"
        f"Creator: {creator}\n"
        f"Wallet: {holder}\n"
        f"Chain ID: {chain_id}"
    )


def check_pending_duplicate(holding_application: str | None, holding_owner: str | None, applicant: str) -> CheckResult:
    """Fails when another applicant's application holds the same image (exact duplicate, not minted yet)."""
    if holding_application is None or holding_owner is None:
        return CheckResult("exact_duplicate", Outcome.PASS,
                           "no certificate or pending application has this exact image")
    if holding_owner.lower() == applicant.lower():
        return CheckResult("exact_duplicate", Outcome.FAIL,
                           f"you have applied for this exact image already (application {holding_application})",
                           {"application": holding_application})
    return CheckResult("exact_duplicate", Outcome.FAIL, "this exact image is being registered by another holder")
