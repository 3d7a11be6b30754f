// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.28;

/// @title Tracemark ownership certificate
/// @notice One ERC-721 token per registered image. A token is minted only with an EIP-712 authorship
/// attestation signed by a platform verifier; the token id is derived from the SHA-256 content hash of
/// the original image, so a content hash registers once. The holder of a token is the right holder.
interface IImageCertificate {
    /// @notice What a verifier attests before an image is registered (EIP-712 struct `Registration`).
    /// @param creator The author; the certificate is always minted to this address.
    /// @param contentHash SHA-256 of the original image bytes; also the token id.
    /// @param metadataDigest SHA-256 digest of the metadata JSON (its CIDv1 raw address on IPFS).
    /// @param fingerprint Perceptual fingerprint of the image, emitted for indexers, not stored.
    /// @param royaltyBps ERC-2981 royalty for the creator, in basis points, at most `MAX_ROYALTY_BPS`.
    /// @param nonce Attestation number, unique per attestation. A registration cannot be replayed because a
    /// content hash registers once; the short deadline bounds how long an unused attestation stays valid.
    /// @param deadline Last timestamp at which the attestation may be used.
    struct Registration {
        address creator;
        bytes32 contentHash;
        bytes32 metadataDigest;
        bytes32 fingerprint;
        uint16 royaltyBps;
        uint64 nonce;
        uint64 deadline;
    }

    /// @notice What a verifier attests before a certificate's metadata is replaced (EIP-712 struct
    /// `MetadataRevision`).
    /// @param tokenId The certificate whose metadata is replaced.
    /// @param metadataDigest SHA-256 digest of the new metadata JSON.
    /// @param nonce Attestation number, consumed on use (a verifier can revoke it before).
    /// @param deadline Last timestamp at which the attestation may be used.
    struct MetadataRevision {
        uint256 tokenId;
        bytes32 metadataDigest;
        uint64 nonce;
        uint64 deadline;
    }

    /// @notice Emitted when an image is registered, right before the ERC-721 `Transfer` from the zero address to
    /// the creator that mints its certificate. The creator, royalty and time are readable with `registrationOf`.
    event CertificateRegistered(uint256 indexed tokenId, bytes32 metadataDigest, bytes32 fingerprint);

    /// @notice Emitted when the holder replaced the metadata of a certificate (EIP-4906 `MetadataUpdate` too).
    event CertificateMetadataReplaced(
        uint256 indexed tokenId, bytes32 previousDigest, bytes32 metadataDigest, address indexed verifier
    );

    /// @notice Emitted when a certificate was flagged as disputed.
    event CertificateDisputed(uint256 indexed tokenId, address indexed by, string evidenceCid);

    /// @notice Emitted when the dispute flag of a certificate was cleared.
    event CertificateDisputeCleared(uint256 indexed tokenId, address indexed by, string resolutionCid);

    /// @notice Emitted when a metadata-revision nonce was consumed, or revoked by a verifier.
    event AttestationNonceUsed(uint64 indexed nonce);

    /// @notice The attestation's deadline has passed.
    error CertificateAttestationExpired(uint256 deadline, uint256 timestamp);
    /// @notice The attestation was not signed by an account holding the verifier role.
    error CertificateInvalidAttestation(address recoveredSigner);
    /// @notice The metadata revision's nonce was revoked or already consumed.
    error CertificateNonceUsed(uint64 nonce);
    /// @notice The content hash is already registered.
    error CertificateAlreadyRegistered(bytes32 contentHash, address holder);
    /// @notice A registration must name a creator, a content hash and a metadata digest.
    error CertificateInvalidRegistration();
    /// @notice The royalty exceeds `MAX_ROYALTY_BPS`.
    error CertificateRoyaltyTooHigh(uint16 royaltyBps, uint16 maxRoyaltyBps);
    /// @notice Only the current holder may do this.
    error CertificateNotHolder(uint256 tokenId, address caller, address holder);
    /// @notice The certificate is already flagged as disputed.
    error CertificateAlreadyDisputed(uint256 tokenId);
    /// @notice The certificate is not flagged as disputed.
    error CertificateNotDisputed(uint256 tokenId);
    /// @notice An evidence or resolution CID must not be empty.
    error CertificateEmptyCid();

    /// @notice Registers an image and mints its certificate to `registration.creator`.
    /// @dev Anyone may submit (a relayer pays the gas); the token always goes to the creator.
    /// @param registration The attested registration.
    /// @param signature The verifier's EIP-712 signature over `registration` (65 bytes, low s).
    /// @return tokenId The new certificate's id (`uint256(registration.contentHash)`).
    function register(Registration calldata registration, bytes calldata signature) external returns (uint256 tokenId);

    /// @notice Replaces the metadata of a certificate the caller holds, with a new attestation.
    /// @param revision The attested metadata revision.
    /// @param signature The verifier's EIP-712 signature over `revision`.
    function replaceMetadata(MetadataRevision calldata revision, bytes calldata signature) external;

    /// @notice Revokes an unused metadata-revision attestation. Only for verifiers.
    /// @param nonce The attestation's nonce.
    function revokeAttestation(uint64 nonce) external;

    /// @notice Flags a certificate as disputed. Only for the dispute role.
    /// @param tokenId The certificate.
    /// @param evidenceCid IPFS CID of the evidence for the dispute.
    function flagDisputed(uint256 tokenId, string calldata evidenceCid) external;

    /// @notice Clears the dispute flag of a certificate. Only for the dispute role.
    /// @param tokenId The certificate.
    /// @param resolutionCid IPFS CID of the document that resolves the dispute.
    function clearDispute(uint256 tokenId, string calldata resolutionCid) external;

    /// @notice The certificate of a content hash.
    /// @param contentHash SHA-256 of the original image bytes.
    /// @return tokenId The certificate id, or 0 when the hash is not registered.
    function certificateOf(bytes32 contentHash) external view returns (uint256 tokenId);

    /// @notice The SHA-256 digest of a certificate's current metadata JSON.
    /// @param tokenId The certificate.
    /// @return The digest; `tokenURI` is its CIDv1 (raw, sha2-256) in base32.
    function metadataDigest(uint256 tokenId) external view returns (bytes32);

    /// @notice What a certificate records about its registration.
    /// @param tokenId The certificate.
    /// @return creator The author.
    /// @return royaltyBps The creator's ERC-2981 royalty.
    /// @return registeredAt Timestamp of the registration.
    function registrationOf(uint256 tokenId)
        external
        view
        returns (address creator, uint16 royaltyBps, uint40 registeredAt);

    /// @notice What a market needs to know before it sells a licence or settles a claim.
    /// @param tokenId The certificate.
    /// @return holder The current holder.
    /// @return holding Counts the changes of hands; it changes whenever the certificate is transferred.
    /// @return disputed Whether the certificate is flagged as disputed.
    function standing(uint256 tokenId) external view returns (address holder, uint32 holding, bool disputed);

    /// @notice Whether a certificate is flagged as disputed.
    /// @param tokenId The certificate.
    /// @return True while disputed.
    function isDisputed(uint256 tokenId) external view returns (bool);

    /// @notice Whether a metadata-revision nonce was consumed or revoked.
    /// @param nonce The nonce.
    /// @return True when a metadata revision with this nonce would be refused.
    function isNonceUsed(uint64 nonce) external view returns (bool);
}
