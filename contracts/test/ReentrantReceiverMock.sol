// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.28;

import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";

/// @title ERC-721 receiver for tests that calls back into a contract while it receives a token
/// @notice Test-only. When armed with calldata, `onERC721Received` calls `target` with it and bubbles up a
/// failure; when not armed, it accepts like a plain receiver.
contract ReentrantReceiverMock is IERC721Receiver {
    /// @notice The contract called back during `onERC721Received`.
    address public immutable target;

    bytes private _callback;

    /// @notice Emitted when the callback succeeded.
    event CallbackSucceeded(bytes returndata);

    /// @param target_ The contract to call back.
    constructor(address target_) {
        target = target_;
    }

    /// @notice Sets the calldata of the callback (empty: no callback).
    /// @param callback The calldata.
    function arm(bytes calldata callback) external {
        _callback = callback;
    }

    /// @inheritdoc IERC721Receiver
    function onERC721Received(address, address, uint256, bytes calldata) external returns (bytes4) {
        bytes memory callback = _callback;
        if (callback.length != 0) {
            (bool ok, bytes memory returndata) = target.call(callback);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(returndata, 0x20), mload(returndata))
                }
            }
            emit CallbackSucceeded(returndata);
        }
        return IERC721Receiver.onERC721Received.selector;
    }
}
