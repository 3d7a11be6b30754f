// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.28;

import {AccessControlDefaultAdminRules} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {IERC4906} from "@openzeppelin/contracts/interfaces/IERC4906.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IImageCertificate} from "./interfaces/IImageCertificate.sol";
import {CidV1} from "./libraries/CidV1.sol";

/// @title Tracemark ownership certificate
/// @notice ERC-721 certificate of an image's registration. See `IImageCertificate`.
/// @dev Storage per certificate: the ERC-721 owner and balance, the metadata digest, and one packed record
/// (creator, royalty, registration time, holding counter, dispute flag). The token id is the content hash, so
/// no content-hash mapping and no counter are stored. Overriders must keep `holding` changing on every transfer:
/// the licence market relies on it to let offers die when a certificate changes hands.
contract ImageCertificate is
    IImageCertificate,
    IERC4906,
    ERC721,
    ERC2981,
    AccessControlDefaultAdminRules,
    EIP712
{
    /// @notice The role whose accounts sign authorship attestations.
    bytes32 public constant VERIFIER_ROLE = keccak256("VERIFIER_ROLE");
    /// @notice The role whose accounts flag and clear disputes.
    bytes32 public constant DISPUTE_ROLE = keccak256("DISPUTE_ROLE");
    /// @notice The highest ERC-2981 royalty a registration may carry (25 %).
    uint16 public constant MAX_ROYALTY_BPS = 2500;
    /// @notice EIP-712 type hash of `Registration`.
    bytes32 public constant REGISTRATION_TYPEHASH = keccak256(
        "Registration(address creator,bytes32 contentHash,bytes32 metadataDigest,bytes32 fingerprint,uint16 royaltyBps,uint64 nonce,uint64 deadline)"
    );
    /// @notice EIP-712 type hash of `MetadataRevision`.
    bytes32 public constant METADATA_REVISION_TYPEHASH =
        keccak256("MetadataRevision(uint256 tokenId,bytes32 metadataDigest,uint64 nonce,uint64 deadline)");

    struct Record {
        address creator;
        uint16 royaltyBps;
        uint40 registeredAt;
        uint32 holding;
        bool disputed;
    }

    mapping(uint256 tokenId => Record) private _records;
    mapping(uint256 tokenId => bytes32 digest) private _metadataDigests;
    mapping(uint256 word => uint256 bits) private _usedNonces;

    /// @param adminDelay Delay of a two-step admin handover, in seconds.
    /// @param admin The first admin.
    constructor(uint48 adminDelay, address admin)
        ERC721("Tracemark Image Certificate", "TMIC")
        EIP712("Tracemark ImageCertificate", "1")
        AccessControlDefaultAdminRules(adminDelay, admin)
    {}

    /// @inheritdoc IImageCertificate
    function register(Registration calldata registration, bytes calldata signature)
        external
        returns (uint256 tokenId)
    {
        if (block.timestamp > registration.deadline) {
            revert CertificateAttestationExpired(registration.deadline, block.timestamp);
        }
        if (
            registration.creator == address(0) || registration.contentHash == bytes32(0)
                || registration.metadataDigest == bytes32(0)
        ) revert CertificateInvalidRegistration();
        if (registration.royaltyBps > MAX_ROYALTY_BPS) {
            revert CertificateRoyaltyTooHigh(registration.royaltyBps, MAX_ROYALTY_BPS);
        }
        _attestedBy(keccak256(abi.encode(REGISTRATION_TYPEHASH, registration)), signature);

        tokenId = uint256(registration.contentHash);
        address holder = _ownerOf(tokenId);
        if (holder != address(0)) revert CertificateAlreadyRegistered(registration.contentHash, holder);

        _records[tokenId] = Record({
            creator: registration.creator,
            royaltyBps: registration.royaltyBps,
            registeredAt: uint40(block.timestamp),
            holding: 0,
            disputed: false
        });
        _metadataDigests[tokenId] = registration.metadataDigest;
        emit CertificateRegistered(tokenId, registration.metadataDigest, registration.fingerprint);
        // Mints to the creator whoever sends the transaction, and calls onERC721Received on a contract creator.
        // Every state change is done before that call, so a re-entering receiver finds the registration complete.
        _safeMint(registration.creator, tokenId);
    }

    /// @inheritdoc IImageCertificate
    function replaceMetadata(MetadataRevision calldata revision, bytes calldata signature) external {
        address holder = _requireOwned(revision.tokenId);
        if (holder != msg.sender) revert CertificateNotHolder(revision.tokenId, msg.sender, holder);
        if (block.timestamp > revision.deadline) {
            revert CertificateAttestationExpired(revision.deadline, block.timestamp);
        }
        if (revision.metadataDigest == bytes32(0)) revert CertificateInvalidRegistration();
        address verifier = _attestedBy(keccak256(abi.encode(METADATA_REVISION_TYPEHASH, revision)), signature);
        _useNonce(revision.nonce);

        bytes32 previous = _metadataDigests[revision.tokenId];
        _metadataDigests[revision.tokenId] = revision.metadataDigest;
        emit CertificateMetadataReplaced(revision.tokenId, previous, revision.metadataDigest, verifier);
        emit MetadataUpdate(revision.tokenId);
    }

    /// @inheritdoc IImageCertificate
    function revokeAttestation(uint64 nonce) external onlyRole(VERIFIER_ROLE) {
        _useNonce(nonce);
    }

    /// @inheritdoc IImageCertificate
    function flagDisputed(uint256 tokenId, string calldata evidenceCid) external onlyRole(DISPUTE_ROLE) {
        _requireOwned(tokenId);
        if (bytes(evidenceCid).length == 0) revert CertificateEmptyCid();
        Record storage record = _records[tokenId];
        if (record.disputed) revert CertificateAlreadyDisputed(tokenId);
        record.disputed = true;
        emit CertificateDisputed(tokenId, msg.sender, evidenceCid);
    }

    /// @inheritdoc IImageCertificate
    function clearDispute(uint256 tokenId, string calldata resolutionCid) external onlyRole(DISPUTE_ROLE) {
        _requireOwned(tokenId);
        if (bytes(resolutionCid).length == 0) revert CertificateEmptyCid();
        Record storage record = _records[tokenId];
        if (!record.disputed) revert CertificateNotDisputed(tokenId);
        record.disputed = false;
        emit CertificateDisputeCleared(tokenId, msg.sender, resolutionCid);
    }

    /// @inheritdoc IImageCertificate
    function certificateOf(bytes32 contentHash) external view returns (uint256) {
        uint256 tokenId = uint256(contentHash);
        return _ownerOf(tokenId) == address(0) ? 0 : tokenId;
    }

    /// @inheritdoc IImageCertificate
    function metadataDigest(uint256 tokenId) external view returns (bytes32) {
        _requireOwned(tokenId);
        return _metadataDigests[tokenId];
    }

    /// @inheritdoc IImageCertificate
    function registrationOf(uint256 tokenId)
        external
        view
        returns (address creator, uint16 royaltyBps, uint40 registeredAt)
    {
        _requireOwned(tokenId);
        Record storage record = _records[tokenId];
        return (record.creator, record.royaltyBps, record.registeredAt);
    }

    /// @inheritdoc IImageCertificate
    function standing(uint256 tokenId) external view returns (address holder, uint32 holding, bool disputed) {
        Record storage record = _records[tokenId];
        return (_ownerOf(tokenId), record.holding, record.disputed);
    }

    /// @inheritdoc IImageCertificate
    function isDisputed(uint256 tokenId) external view returns (bool) {
        _requireOwned(tokenId);
        return _records[tokenId].disputed;
    }

    /// @inheritdoc IImageCertificate
    function isNonceUsed(uint64 nonce) public view returns (bool) {
        return _usedNonces[nonce >> 8] & (uint256(1) << (nonce & 0xff)) != 0;
    }

    /// @notice The certificate's metadata address, `ipfs://<CIDv1 base32>`, derived from the stored digest.
    /// @param tokenId The certificate.
    /// @return The URI.
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        return CidV1.ipfsUri(_metadataDigests[tokenId]);
    }

    /// @notice ERC-2981 royalty: the creator receives `royaltyBps` of the sale price.
    /// @param tokenId The certificate.
    /// @param salePrice The sale price.
    /// @return receiver The creator (zero for an unknown certificate).
    /// @return amount The royalty.
    function royaltyInfo(uint256 tokenId, uint256 salePrice)
        public
        view
        override
        returns (address receiver, uint256 amount)
    {
        Record storage record = _records[tokenId];
        return (record.creator, salePrice * record.royaltyBps / _feeDenominator());
    }

    /// @notice ERC-165: ERC-721 (+ metadata), ERC-2981, EIP-4906, access control.
    /// @param interfaceId The interface id.
    /// @return Whether the interface is supported.
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(IERC165, ERC721, ERC2981, AccessControlDefaultAdminRules)
        returns (bool)
    {
        return interfaceId == bytes4(0x49064906) || ERC721.supportsInterface(interfaceId)
            || ERC2981.supportsInterface(interfaceId) || AccessControlDefaultAdminRules.supportsInterface(interfaceId);
    }

    /// @dev Moves the holding counter on every transfer (not on the mint), so offers of earlier holders die.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address from) {
        from = super._update(to, tokenId, auth);
        if (from != address(0)) {
            // Wraps after 2**32 transfers of one certificate; no holder can afford that many.
            unchecked {
                _records[tokenId].holding += 1;
            }
        }
    }

    function _attestedBy(bytes32 structHash, bytes calldata signature) private view returns (address signer) {
        signer = ECDSA.recoverCalldata(_hashTypedDataV4(structHash), signature);
        if (!hasRole(VERIFIER_ROLE, signer)) revert CertificateInvalidAttestation(signer);
    }

    function _useNonce(uint64 nonce) private {
        uint256 bit = uint256(1) << (nonce & 0xff);
        uint256 word = _usedNonces[nonce >> 8];
        if (word & bit != 0) revert CertificateNonceUsed(nonce);
        _usedNonces[nonce >> 8] = word | bit;
        emit AttestationNonceUsed(nonce);
    }
}
