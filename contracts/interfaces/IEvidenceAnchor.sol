// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.28;

/// @title Tracemark evidence anchor
/// @notice Commits the Merkle root of each batch of evidence records, so anyone can later prove that a piece
/// of evidence existed when its batch was anchored.
interface IEvidenceAnchor {
    /// @notice Emitted when a batch root was anchored.
    event EvidenceAnchored(bytes32 indexed root, uint256 count, string batchCid, address indexed anchorer, uint256 timestamp);

    /// @notice The root was anchored before.
    error EvidenceAnchorAlreadyAnchored(bytes32 root, uint256 anchoredAt);
    /// @notice A batch needs a non-zero root, at least one record and a CID.
    error EvidenceAnchorInvalidBatch();

    /// @notice Anchors a batch. Only for the anchoring role.
    /// @param root The batch's Merkle root.
    /// @param count The number of evidence records in the batch.
    /// @param batchCid The IPFS CID of the batch's manifest.
    function anchor(bytes32 root, uint32 count, string calldata batchCid) external;

    /// @notice When a root was anchored.
    /// @param root The batch's Merkle root.
    /// @return The block timestamp of the anchoring, or 0 when the root is unknown.
    function anchoredAt(bytes32 root) external view returns (uint256);
}
