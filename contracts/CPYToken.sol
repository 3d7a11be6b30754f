// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title CPY, the token Tracemark licences and settlements are paid in
/// @notice ERC-20 with EIP-2612 permits and 18 decimals. The whole supply is minted once, at deployment, to the
/// treasury; the contract has no owner and no way to mint afterwards.
contract CPYToken is ERC20, ERC20Permit {
    /// @notice The supply must be above zero.
    error CPYInvalidSupply();

    /// @param treasury Receives the whole supply.
    /// @param supply The fixed supply, in base units (18 decimals).
    constructor(address treasury, uint256 supply) ERC20("Tracemark Copyright", "CPY") ERC20Permit("Tracemark Copyright") {
        if (supply == 0) revert CPYInvalidSupply();
        _mint(treasury, supply);
    }
}
