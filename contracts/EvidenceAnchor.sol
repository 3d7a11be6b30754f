// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.28;

import {AccessControlDefaultAdminRules} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {IEvidenceAnchor} from "./interfaces/IEvidenceAnchor.sol";

/// @title Tracemark evidence anchor
/// @notice Stores, for each anchored batch root, the timestamp of the block that anchored it.
contract EvidenceAnchor is IEvidenceAnchor, AccessControlDefaultAdminRules {
    /// @notice The role that may anchor batches (the platform's evidence service).
    bytes32 public constant ANCHOR_ROLE = keccak256("ANCHOR_ROLE");

    mapping(bytes32 root => uint256 timestamp) private _anchoredAt;

    /// @param adminDelay Delay of a two-step admin handover, in seconds.
    /// @param admin The first admin.
    constructor(uint48 adminDelay, address admin) AccessControlDefaultAdminRules(adminDelay, admin) {}

    /// @inheritdoc IEvidenceAnchor
    function anchor(bytes32 root, uint32 count, string calldata batchCid) external onlyRole(ANCHOR_ROLE) {
        if (root == bytes32(0) || count == 0 || bytes(batchCid).length == 0) revert EvidenceAnchorInvalidBatch();
        uint256 previous = _anchoredAt[root];
        if (previous != 0) revert EvidenceAnchorAlreadyAnchored(root, previous);
        _anchoredAt[root] = block.timestamp;
        emit EvidenceAnchored(root, count, batchCid, msg.sender, block.timestamp);
    }

    /// @inheritdoc IEvidenceAnchor
    function anchoredAt(bytes32 root) external view returns (uint256) {
        return _anchoredAt[root];
    }
}
