"""Evidence: archived responses (WARC), their hash-chained journal, batch Merkle roots anchored on-chain, and the
checks anyone can run on them.

Public surface:
    EvidenceWriter, EvidenceRef        tracemark.evidence.warc     write WARC/1.1 pairs, journal, seal, anchor
    verify_evidence, Report            tracemark.evidence.verify   re-read and check everything; first broken link
    EvidenceAnchorer, anchorer_for     tracemark.evidence.anchor   the chain adapter (EvidenceAnchor)
    prove, EvidenceProof               tracemark.evidence.proof    inclusion proof of one record in an anchored batch
    merkle_root, inclusion_proof       tracemark.evidence.merkle   the tree (RFC 6962-style domain separation)
"""
