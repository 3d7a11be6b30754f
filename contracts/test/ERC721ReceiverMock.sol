// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.28;

import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";

/// @title ERC-721 receiver for tests, whose answer to `onERC721Received` is chosen at deployment
/// @notice Test-only. Accepts, returns a wrong value, reverts with a message, with a custom error, without data,
/// or panics (division by zero).
contract ERC721ReceiverMock is IERC721Receiver {
    /// @notice What `onERC721Received` does.
    enum Behaviour {
        Accept,
        WrongValue,
        RevertWithMessage,
        RevertWithCustomError,
        RevertWithoutMessage,
        Panic
    }

    /// @notice The value returned by the `WrongValue` behaviour (not the ERC-721 magic value).
    bytes4 public constant WRONG_VALUE = 0xdeadbeef;

    /// @notice The custom error of the `RevertWithCustomError` behaviour.
    error ERC721ReceiverMockRejected(address operator, address from, uint256 tokenId);

    /// @notice Emitted by the `Accept` behaviour with the arguments it was called with.
    event Received(address operator, address from, uint256 tokenId, bytes data);

    /// @notice The behaviour chosen at deployment.
    Behaviour public immutable behaviour;

    /// @param behaviour_ What `onERC721Received` does.
    constructor(Behaviour behaviour_) {
        behaviour = behaviour_;
    }

    /// @inheritdoc IERC721Receiver
    function onERC721Received(address operator, address from, uint256 tokenId, bytes calldata data)
        external
        returns (bytes4)
    {
        Behaviour chosen = behaviour;
        if (chosen == Behaviour.WrongValue) return WRONG_VALUE;
        if (chosen == Behaviour.RevertWithMessage) revert("ERC721ReceiverMock: rejected");
        if (chosen == Behaviour.RevertWithCustomError) revert ERC721ReceiverMockRejected(operator, from, tokenId);
        if (chosen == Behaviour.RevertWithoutMessage) revert();
        if (chosen == Behaviour.Panic) {
            // Zero, computed at run time so that the compiler cannot reject the division.
            uint256 zero = uint256(chosen) - uint256(Behaviour.Panic);
            return bytes4(uint32(tokenId / zero));
        }
        emit Received(operator, from, tokenId, data);
        return IERC721Receiver.onERC721Received.selector;
    }
}
