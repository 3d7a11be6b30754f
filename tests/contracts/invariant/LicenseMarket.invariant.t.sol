// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.28;

import {IImageCertificate} from "contracts/interfaces/IImageCertificate.sol";
import {CPYToken} from "contracts/CPYToken.sol";
import {ImageCertificate} from "contracts/ImageCertificate.sol";
import {LicenseMarket} from "contracts/LicenseMarket.sol";
import {Cast, MarketHandler} from "./MarketHandler.sol";
import {CheatCodes} from "./Vm.sol";

/// @title Stateful invariants of the licence market and certificate transfers
/// @notice forge calls random sequences of `MarketHandler` actions (registrations, transfers, offers, purchases
/// with allowance or permit, settlements, fee and treasury changes, disputes, time) and checks every invariant
/// below after each call. Run with `tools/forge-invariants.sh`; the run and depth are in foundry.toml.
/// @dev forge finds this contract by its `invariant*` functions and reads the fuzz targets from
/// `targetContracts()` and `targetSelectors()`, the same ABI forge-std's StdInvariant exposes.
contract LicenseMarketInvariantTest is CheatCodes {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    uint256 internal constant SUPPLY = 1_000_000_000e18;
    uint256 internal constant ACTOR_FUNDS = 10_000e18;
    uint16 internal constant INITIAL_FEE_BPS = 1000;

    CPYToken internal cpy;
    ImageCertificate internal certificates;
    LicenseMarket internal market;
    MarketHandler internal handler;

    function setUp() public {
        vm.warp(1_750_000_000);
        Cast memory cast;
        for (uint256 i = 0; i < 4; ++i) {
            cast.actorKeys[i] = uint256(keccak256(abi.encode("tracemark.invariant.actor", i)));
        }
        cast.treasuries[0] = vm.addr(uint256(keccak256("tracemark.invariant.treasury.0")));
        cast.treasuries[1] = vm.addr(uint256(keccak256("tracemark.invariant.treasury.1")));
        cast.admin = vm.addr(uint256(keccak256("tracemark.invariant.admin")));
        cast.disputer = vm.addr(uint256(keccak256("tracemark.invariant.disputer")));
        cast.verifierKey = uint256(keccak256("tracemark.invariant.verifier"));
        cast.settlerKey = uint256(keccak256("tracemark.invariant.settler"));
        cast.outsiderKey = uint256(keccak256("tracemark.invariant.outsider"));

        cpy = new CPYToken(cast.treasuries[0], SUPPLY);
        certificates = new ImageCertificate(1 days, cast.admin);
        market = new LicenseMarket(
            cpy, IImageCertificate(address(certificates)), cast.treasuries[0], INITIAL_FEE_BPS, 1 days, cast.admin
        );

        // Role ids are read first: an argument that calls a contract would use up the prank.
        bytes32 verifierRole = certificates.VERIFIER_ROLE();
        bytes32 disputeRole = certificates.DISPUTE_ROLE();
        bytes32 settlementRole = market.SETTLEMENT_ROLE();
        vm.prank(cast.admin);
        certificates.grantRole(verifierRole, vm.addr(cast.verifierKey));
        vm.prank(cast.admin);
        certificates.grantRole(disputeRole, cast.disputer);
        vm.prank(cast.admin);
        market.grantRole(settlementRole, vm.addr(cast.settlerKey));

        handler = new MarketHandler(cpy, certificates, market, cast);
        for (uint256 i = 0; i < 4; ++i) {
            address account = handler.actor(i);
            vm.prank(cast.treasuries[0]);
            require(cpy.transfer(account, ACTOR_FUNDS), "funding failed");
        }
        // Two of the five images start registered, so that campaigns trade from the first call on.
        handler.registerGenesis(0, 0);
        handler.registerGenesis(1, 1);
        vm.label(address(cpy), "CPY");
        vm.label(address(certificates), "ImageCertificate");
        vm.label(address(market), "LicenseMarket");
        vm.label(address(handler), "MarketHandler");
    }

    /// @notice The fuzzer calls the handler only.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice Every handler action; the views and the ghost getters are left out.
    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory selectors = new bytes4[](18);
        selectors[0] = MarketHandler.register.selector;
        selectors[1] = MarketHandler.transferCertificate.selector;
        selectors[2] = MarketHandler.roundTrip.selector;
        selectors[3] = MarketHandler.setOffer.selector;
        selectors[4] = MarketHandler.withdrawOffer.selector;
        selectors[5] = MarketHandler.buyLicence.selector;
        selectors[6] = MarketHandler.buyLicenceWithPermit.selector;
        selectors[7] = MarketHandler.settleClaim.selector;
        selectors[8] = MarketHandler.setPlatformFee.selector;
        selectors[9] = MarketHandler.setTreasury.selector;
        selectors[10] = MarketHandler.flagDispute.selector;
        selectors[11] = MarketHandler.clearDispute.selector;
        selectors[12] = MarketHandler.warp.selector;
        selectors[13] = MarketHandler.grant.selector;
        // forge draws a selector uniformly from this list: purchases and settlements, the paths that move CPY, get
        // a second ticket each, and offers a third, since transfers, round trips and withdrawals keep killing them.
        selectors[14] = MarketHandler.setOffer.selector;
        selectors[15] = MarketHandler.buyLicence.selector;
        selectors[16] = MarketHandler.settleClaim.selector;
        selectors[17] = MarketHandler.setOffer.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector({addr: address(handler), selectors: selectors});
    }

    // =====================================================================================================
    // Invariants
    // =====================================================================================================

    /// @notice Total CPY is conserved: the actors and the treasuries hold the whole fixed supply, no more, no less.
    function invariant_cpyIsConserved() public view {
        uint256 sum = cpy.balanceOf(handler.treasury(0)) + cpy.balanceOf(handler.treasury(1));
        for (uint256 i = 0; i < handler.ACTORS(); ++i) {
            sum += cpy.balanceOf(handler.actor(i));
        }
        _require(cpy.totalSupply() == SUPPLY, "CPY total supply changed");
        _require(sum == SUPPLY, "CPY left the actors and treasuries");
        _require(handler.paidIn() == handler.paidToHolders() + handler.paidToTreasury(), "ghost payouts do not sum");
    }

    /// @notice The market never keeps tokens it does not owe: it holds no CPY, no certificate, and no contract in
    /// the system holds CPY.
    function invariant_marketKeepsNothing() public view {
        _require(cpy.balanceOf(address(market)) == 0, "market holds CPY");
        _require(certificates.balanceOf(address(market)) == 0, "market holds certificates");
        _require(cpy.balanceOf(address(certificates)) == 0, "certificate contract holds CPY");
        _require(cpy.balanceOf(address(cpy)) == 0, "CPY contract holds CPY");
        _require(cpy.balanceOf(address(handler)) == 0, "handler holds CPY");
    }

    /// @notice An offer published by a holder is never live after the certificate changed hands (even A -> B -> A);
    /// a live offer is exactly one the model holds as published in the current holding, on an undisputed certificate.
    function invariant_offersDieWhenCertificatesChangeHands() public view {
        _require(handler.staleOffersLive() == 0, "an offer survived a change of hands");
        _require(handler.staleOfferSales() == 0, "a dead offer sold a licence");
        for (uint256 image = 0; image < handler.IMAGES(); ++image) {
            MarketHandler.GhostCertificate memory certificate = handler.ghostCertificate(image);
            uint256 tokenId = handler.tokenIdOf(image);
            for (uint8 kind = 1; kind <= handler.KINDS(); ++kind) {
                MarketHandler.GhostOffer memory ghost = handler.ghostOffer(image, kind);
                (bool live, uint256 price, uint64 duration) = market.offerOf(tokenId, kind);
                _require(live == (ghost.live && !certificate.disputed), "offer liveness differs from the model");
                if (live) _require(price == ghost.price && duration == ghost.duration, "offer terms differ");
            }
        }
    }

    /// @notice A disputed certificate never sold a licence nor settled a claim.
    function invariant_disputedCertificatesSellNothing() public view {
        _require(handler.disputedSales() == 0, "a disputed certificate sold a licence");
        _require(handler.disputedSettlements() == 0, "a disputed certificate settled a claim");
    }

    /// @notice For every purchase and settlement the payouts summed to the price, and balances moved exactly so.
    function invariant_payoutsSumToThePrice() public view {
        _require(handler.payoutMismatches() == 0, "payouts did not sum to the price");
    }

    /// @notice `licensedUntil` and `isLicensed` match the model for every certificate, actor and kind.
    function invariant_licencesMatchTheModel() public {
        uint256 moment = handler.ghostNow();
        vm.warp(moment);
        for (uint256 image = 0; image < handler.IMAGES(); ++image) {
            uint256 tokenId = handler.tokenIdOf(image);
            for (uint256 a = 0; a < handler.ACTORS(); ++a) {
                address licensee = handler.actor(a);
                for (uint8 kind = 1; kind <= handler.KINDS(); ++kind) {
                    uint64 end = handler.ghostLicensedUntil(image, a, kind);
                    _require(market.licensedUntil(tokenId, licensee, kind) == end, "licence end differs from the model");
                    _require(market.isLicensed(tokenId, licensee, kind) == (moment < end), "isLicensed differs");
                }
            }
        }
    }

    /// @notice Each case settled at most once, and `isSettled` says which.
    function invariant_casesSettleOnce() public view {
        for (uint256 c = 0; c < handler.CASES(); ++c) {
            uint256 settles = handler.settlesOfCase(c);
            _require(settles <= 1, "a case settled twice");
            _require(market.isSettled(handler.caseIdOf(c)) == (settles == 1), "isSettled differs from the model");
        }
    }

    /// @notice Licences are counted exactly: the market's serials, summed over every certificate, licensee and
    /// kind, equal the successful purchases plus settlements, and each serial equals the model's.
    function invariant_licenceCountMatches() public view {
        uint256 issued;
        for (uint256 image = 0; image < handler.IMAGES(); ++image) {
            uint256 tokenId = handler.tokenIdOf(image);
            for (uint256 a = 0; a < handler.ACTORS(); ++a) {
                for (uint8 kind = 1; kind <= handler.KINDS(); ++kind) {
                    uint32 serial = market.licenceSerial(tokenId, handler.actor(a), kind);
                    _require(serial == handler.ghostSerial(image, a, kind), "licence serial differs from the model");
                    issued += serial;
                }
            }
        }
        _require(issued == handler.purchases() + handler.settlements(), "licence count differs from the model");
    }

    /// @notice Certificates: holders, disputes, content-hash lookups and the fee and treasury match the model, and
    /// every call ended as the model predicted (success, or the predicted error).
    function invariant_modelHolds() public view {
        _require(handler.modelMismatches() == 0, "a call ended other than the model predicted");
        _require(market.platformFeeBps() == handler.ghostFeeBps(), "platform fee differs");
        _require(market.treasury() == handler.ghostTreasury(), "treasury differs");
        for (uint256 image = 0; image < handler.IMAGES(); ++image) {
            MarketHandler.GhostCertificate memory ghost = handler.ghostCertificate(image);
            uint256 tokenId = handler.tokenIdOf(image);
            (address holder,, bool disputed) = certificates.standing(tokenId);
            _require(holder == ghost.holder && disputed == ghost.disputed, "certificate standing differs");
            uint256 expected = ghost.registered ? tokenId : 0;
            _require(certificates.certificateOf(handler.contentHashOf(image)) == expected, "certificateOf differs");
        }
    }

    /// @notice After each run, prints how often each action went through and how often it was refused as expected
    /// (shown with `forge test -vv`).
    function afterInvariant() public view {
        string[16] memory actions = [
            "register",
            "transfer",
            "roundTrip",
            "staleOfferPurchase",
            "setOffer",
            "withdrawOffer",
            "buyLicence",
            "buyLicenceWithPermit",
            "changedTerms",
            "settleClaim",
            "setPlatformFee",
            "setTreasury",
            "flagDispute",
            "clearDispute",
            "warp",
            "grant"
        ];
        for (uint256 i = 0; i < actions.length; ++i) {
            bytes32 key = keccak256(bytes(actions[i]));
            _log(string.concat(actions[i], " ok"), handler.succeeded(key));
            _log(string.concat(actions[i], " refused"), handler.refused(key));
        }
    }

    /// @dev Reverts with `message` and, when the handler recorded one, its first violation.
    function _require(bool condition, string memory message) internal view {
        if (!condition) revert(string.concat(message, "; first violation: ", handler.firstViolation()));
    }
}
