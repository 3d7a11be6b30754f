"""ImageCertificate disputes: the dispute role flags and clears certificates.

A disputed certificate sells no licence and settles no claim until the dispute is cleared.
"""

from __future__ import annotations

import pytest

from tests.contracts.support import ONE_CPY, UINT256_MAX, WEB, reverts, role_hash, unique_bytes32

EVIDENCE_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
RESOLUTION_CID = "bafkreiaxnnnb7qz2focittuqq3ya25q7rcv3bqynnczfzako47346wosmu"


@pytest.fixture
def token_id(creator, register):
    return register(creator)


def test_dispute_agent_flags_a_certificate(certificate, dispute_agent, creator, token_id, event_args):
    receipt = certificate.flagDisputed(token_id, EVIDENCE_CID, sender=dispute_agent)
    assert certificate.isDisputed(token_id) is True
    assert tuple(certificate.standing(token_id)) == (creator.address, 0, True)
    assert event_args(receipt, certificate.CertificateDisputed) == [
        {"tokenId": token_id, "by": dispute_agent.address, "evidenceCid": EVIDENCE_CID}
    ]


def test_dispute_agent_clears_a_dispute(certificate, dispute_agent, creator, token_id, event_args):
    certificate.flagDisputed(token_id, EVIDENCE_CID, sender=dispute_agent)
    receipt = certificate.clearDispute(token_id, RESOLUTION_CID, sender=dispute_agent)
    assert certificate.isDisputed(token_id) is False
    assert tuple(certificate.standing(token_id)) == (creator.address, 0, False)
    assert event_args(receipt, certificate.CertificateDisputeCleared) == [
        {"tokenId": token_id, "by": dispute_agent.address, "resolutionCid": RESOLUTION_CID}
    ]


@pytest.mark.parametrize("who", ["admin", "verifier", "creator"])
def test_only_the_dispute_role_flags_and_clears(request, certificate, dispute_agent, token_id, who):
    account = request.getfixturevalue(who)  # accounts are plain values: no deployment to lose
    with reverts(certificate.AccessControlUnauthorizedAccount, account=account, neededRole=role_hash("DISPUTE_ROLE")):
        certificate.flagDisputed(token_id, EVIDENCE_CID, sender=account)
    certificate.flagDisputed(token_id, EVIDENCE_CID, sender=dispute_agent)
    with reverts(certificate.AccessControlUnauthorizedAccount, account=account, neededRole=role_hash("DISPUTE_ROLE")):
        certificate.clearDispute(token_id, RESOLUTION_CID, sender=account)
    assert certificate.isDisputed(token_id) is True


def test_flag_and_clear_need_a_cid(certificate, dispute_agent, token_id):
    with reverts(certificate.CertificateEmptyCid):
        certificate.flagDisputed(token_id, "", sender=dispute_agent)
    certificate.flagDisputed(token_id, EVIDENCE_CID, sender=dispute_agent)
    with reverts(certificate.CertificateEmptyCid):
        certificate.clearDispute(token_id, "", sender=dispute_agent)


def test_a_dispute_is_flagged_once_and_cleared_once(certificate, dispute_agent, token_id):
    with reverts(certificate.CertificateNotDisputed, tokenId=token_id):
        certificate.clearDispute(token_id, RESOLUTION_CID, sender=dispute_agent)
    certificate.flagDisputed(token_id, EVIDENCE_CID, sender=dispute_agent)
    with reverts(certificate.CertificateAlreadyDisputed, tokenId=token_id):
        certificate.flagDisputed(token_id, EVIDENCE_CID, sender=dispute_agent)


def test_unknown_certificate_cannot_be_flagged_or_cleared(certificate, dispute_agent):
    unknown = int.from_bytes(unique_bytes32("unknown"), "big")
    with reverts(certificate.ERC721NonexistentToken, tokenId=unknown):
        certificate.flagDisputed(unknown, EVIDENCE_CID, sender=dispute_agent)
    with reverts(certificate.ERC721NonexistentToken, tokenId=unknown):
        certificate.clearDispute(unknown, RESOLUTION_CID, sender=dispute_agent)


def test_dispute_survives_a_transfer(certificate, dispute_agent, creator, buyer, token_id):
    certificate.flagDisputed(token_id, EVIDENCE_CID, sender=dispute_agent)
    certificate.transferFrom(creator, buyer, token_id, sender=creator)
    assert tuple(certificate.standing(token_id)) == (buyer.address, 1, True)


def test_disputed_certificate_sells_no_licence_until_cleared(certificate, market, cpy, dispute_agent, creator, buyer,
                                                             token_id):
    market.setOffer(token_id, WEB, 10 * ONE_CPY, 0, sender=creator)
    cpy.approve(market, UINT256_MAX, sender=buyer)
    certificate.flagDisputed(token_id, EVIDENCE_CID, sender=dispute_agent)

    assert tuple(market.offerOf(token_id, WEB)) == (False, 10 * ONE_CPY, 0)
    with reverts(market.LicenseMarketCertificateDisputed, certificateId=token_id):
        market.buyLicence(token_id, WEB, buyer, 10 * ONE_CPY, 0, sender=buyer)

    certificate.clearDispute(token_id, RESOLUTION_CID, sender=dispute_agent)
    assert tuple(market.offerOf(token_id, WEB)) == (True, 10 * ONE_CPY, 0)
    market.buyLicence(token_id, WEB, buyer, 10 * ONE_CPY, 0, sender=buyer)
    assert market.isLicensed(token_id, buyer, WEB) is True


def test_disputed_certificate_settles_no_claim_until_cleared(certificate, market, cpy, dispute_agent, creator,
                                                             infringer, token_id, quote_for):
    quote, signature = quote_for(token_id, infringer)
    cpy.approve(market, quote.amount, sender=infringer)
    certificate.flagDisputed(token_id, EVIDENCE_CID, sender=dispute_agent)

    with reverts(market.LicenseMarketCertificateDisputed, certificateId=token_id):
        market.settleClaim(quote.as_tuple(), signature.to_bytes(), sender=infringer)
    assert market.isSettled(quote.case_id) is False

    certificate.clearDispute(token_id, RESOLUTION_CID, sender=dispute_agent)
    market.settleClaim(quote.as_tuple(), signature.to_bytes(), sender=infringer)
    assert market.isSettled(quote.case_id) is True
    assert cpy.balanceOf(creator) == quote.amount * 7000 // 10_000
