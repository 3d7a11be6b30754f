// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.28;

/// @title IPFS addresses from SHA-256 digests
/// @notice Builds `ipfs://<CIDv1>` for content added to IPFS as a single raw block: CIDv1, codec `raw` (0x55),
/// multihash sha2-256 (0x12, 32 bytes), written in multibase base32 (RFC 4648 lower case, no padding, prefix `b`).
/// The CID's bytes are `0x01 0x55 0x12 0x20 || digest` (36 bytes), which encode to 58 base32 characters.
library CidV1 {
    bytes32 private constant _BASE32 = "abcdefghijklmnopqrstuvwxyz234567";
    uint256 private constant _CID_PREFIX = 0x01551220;

    /// @notice The `ipfs://` URI of the raw block whose SHA-256 digest is `digest`.
    /// @param digest The SHA-256 digest of the block.
    /// @return The URI, e.g. `ipfs://bafkrei...` (66 characters).
    function ipfsUri(bytes32 digest) internal pure returns (string memory) {
        bytes memory out = new bytes(66);
        bytes8 scheme = "ipfs://b";
        for (uint256 i = 0; i < 8; ++i) {
            out[i] = scheme[i];
        }
        // The 36 CID bytes as 288 bits: the 4 prefix bytes, then the digest.
        // Seven groups of 40 bits give 56 characters; the last byte gives the final two (3 bits zero-padded).
        uint256 d = uint256(digest);
        uint256 pos = 8;
        // First group: the prefix (32 bits) and the first digest byte.
        pos = _encodeGroup(out, pos, (_CID_PREFIX << 8) | (d >> 248));
        for (uint256 g = 0; g < 6; ++g) {
            // Digest bytes 1 + 5g .. 5 + 5g.
            pos = _encodeGroup(out, pos, (d >> (208 - 40 * g)) & 0xFFFFFFFFFF);
        }
        uint256 last = d & 0xFF;
        out[pos] = _BASE32[last >> 3];
        out[pos + 1] = _BASE32[(last & 7) << 2];
        return string(out);
    }

    function _encodeGroup(bytes memory out, uint256 pos, uint256 group) private pure returns (uint256) {
        for (uint256 k = 0; k < 8; ++k) {
            out[pos + k] = _BASE32[(group >> (35 - 5 * k)) & 31];
        }
        return pos + 8;
    }
}
