// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.28;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721URIStorage} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721URIStorage.sol";

/// @title Baseline for the gas benchmark (test only)
/// @notice The obvious way to register an image as an NFT: OpenZeppelin's ERC721URIStorage with the metadata CID
/// stored as a string and a counter for ids. `benchmarks/gas.py` compares `ImageCertificate.register` to it.
contract URIStorageBaseline is ERC721URIStorage {
    uint256 private _nextId = 1;

    constructor() ERC721("Baseline", "BASE") {}

    /// @notice Mints the next id to `to` with `uri` as its token URI.
    /// @param to The receiver.
    /// @param uri The token URI, e.g. `ipfs://bafkrei...`.
    /// @return tokenId The new token's id.
    function mint(address to, string calldata uri) external returns (uint256 tokenId) {
        tokenId = _nextId++;
        _mint(to, tokenId);
        _setTokenURI(tokenId, uri);
    }
}
