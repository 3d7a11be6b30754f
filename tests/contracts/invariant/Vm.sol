// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.28;

/// @title The few Foundry cheatcodes the invariant tests use
/// @notice forge-std is not available offline, so this declares only what the harness calls. forge answers
/// these at the fixed cheatcode address `VM_ADDRESS` (the address of `keccak256("hevm cheat code")`).
interface Vm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    /// @notice Sets `block.timestamp`.
    function warp(uint256 timestamp) external;
    /// @notice Makes the next call come from `sender`.
    function prank(address sender) external;
    /// @notice Signs `digest` with `privateKey` (secp256k1, low s).
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    /// @notice The address of `privateKey`.
    function addr(uint256 privateKey) external pure returns (address);
    /// @notice Starts recording the logs of the following calls.
    function recordLogs() external;
    /// @notice The logs recorded since `recordLogs`, which are then forgotten.
    function getRecordedLogs() external returns (Log[] memory);
    /// @notice Names an address in traces.
    function label(address account, string calldata name) external;
}

/// @title The cheatcode address and a minimal `console.log`
abstract contract CheatCodes {
    /// @dev address(uint160(uint256(keccak256("hevm cheat code")))).
    address internal constant VM_ADDRESS = 0x7109709ECfa91a80626fF3989D68f67F5b1DD12D;
    /// @dev The address forge decodes `console.log` calls at ("console.log" in hex).
    address internal constant CONSOLE_ADDRESS = 0x000000000000000000636F6e736F6c652e6c6f67;

    Vm internal constant vm = Vm(VM_ADDRESS);

    /// @dev Prints `label` and `value` in forge's log output (shown from -vv on). Never reverts.
    function _log(string memory label, uint256 value) internal view {
        (bool ok,) = CONSOLE_ADDRESS.staticcall(abi.encodeWithSignature("log(string,uint256)", label, value));
        ok;
    }
}
