// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.28;

import {AccessControlDefaultAdminRules} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {LowLevelCall} from "@openzeppelin/contracts/utils/LowLevelCall.sol";
import {IImageCertificate} from "./interfaces/IImageCertificate.sol";
import {ILicenseMarket} from "./interfaces/ILicenseMarket.sol";

/// @title Tracemark licence market and claim settlement
/// @notice See `ILicenseMarket`. Payments go straight from the payer to the holder and the treasury; the
/// contract never holds CPY.
/// @dev Storage: one slot per offer, one slot per (certificate, licensee, kind) holding the licence's end and a
/// serial number, one flag per settled case, and one configuration slot (treasury, fee). The full licence record
/// lives in the `LicencePurchased` event; a licence id is derived from (certificate, licensee, kind, serial), so
/// no global counter has to be written on every sale. CPY has no transfer hooks, so a payment cannot call back.

contract LicenseMarket is ILicenseMarket, AccessControlDefaultAdminRules, EIP712 {
    using SafeERC20 for IERC20;

    /// @notice The role whose accounts sign settlement quotes.
    bytes32 public constant SETTLEMENT_ROLE = keccak256("SETTLEMENT_ROLE");
    /// @notice The highest platform fee on licence sales (30 %).
    uint16 public constant MAX_FEE_BPS = 3000;
    /// @notice The end of a perpetual licence.
    uint64 public constant PERPETUAL = type(uint64).max;
    /// @notice EIP-712 type hash of `SettlementQuote`.
    bytes32 public constant SETTLEMENT_QUOTE_TYPEHASH = keccak256(
        "SettlementQuote(bytes32 caseId,uint256 certificateId,address payer,uint256 amount,uint16 holderShareBps,uint8 kind,uint64 licenceDuration,uint256 deadline)"
    );
    uint256 private constant _BPS = 10_000;

    /// @notice The token licences and settlements are paid in.
    IERC20 public immutable cpy;
    /// @notice The certificate contract whose certificates are licensed here.
    IImageCertificate public immutable certificates;

    struct Config {
        address treasury;
        uint16 feeBps;
    }

    /// @dev What `isLicensed` needs, and how many licences the key has had.
    struct LicenceState {
        uint64 end;
        uint32 serial;
    }

    /// @dev A sale: who pays whom, for which licence.
    struct Sale {
        uint256 certificateId;
        uint8 kind;
        address licensee;
        uint256 price;
        uint64 duration;
        address holder;
        uint256 holderAmount;
        bool renewPerpetual;
    }

    Config private _config;
    mapping(uint256 certificateId => mapping(uint8 kind => Offer)) private _offers;
    mapping(bytes32 licenceKey => LicenceState) private _licences;
    mapping(bytes32 caseId => bool) private _settled;

    /// @param cpyToken The CPY token.
    /// @param certificateContract The certificate contract.
    /// @param initialTreasury Receives fees and the platform's settlement share.
    /// @param feeBps The platform fee on licence sales.
    /// @param adminDelay Delay of a two-step admin handover, in seconds.
    /// @param admin The first admin.
    constructor(
        IERC20 cpyToken,
        IImageCertificate certificateContract,
        address initialTreasury,
        uint16 feeBps,
        uint48 adminDelay,
        address admin
    ) EIP712("Tracemark LicenseMarket", "1") AccessControlDefaultAdminRules(adminDelay, admin) {
        if (address(cpyToken) == address(0) || address(certificateContract) == address(0)) {
            revert LicenseMarketInvalidContract();
        }
        cpy = cpyToken;
        certificates = certificateContract;
        _setTreasury(initialTreasury);
        _setPlatformFee(feeBps);
    }

    /// @inheritdoc ILicenseMarket
    function setOffer(uint256 certificateId, uint8 kind, uint256 price, uint64 duration) external {
        if (kind == 0) revert LicenseMarketInvalidKind(kind);
        if (price == 0 || price > type(uint96).max) revert LicenseMarketInvalidPrice(price);
        (, uint32 holding) = _requireHolder(certificateId);
        _offers[certificateId][kind] =
            Offer({price: uint96(price), duration: duration, holding: holding, active: true});
        emit OfferPublished(certificateId, kind, msg.sender, price, duration);
    }

    /// @inheritdoc ILicenseMarket
    function withdrawOffer(uint256 certificateId, uint8 kind) external {
        _requireHolder(certificateId);
        delete _offers[certificateId][kind];
        emit OfferWithdrawn(certificateId, kind, msg.sender);
    }

    /// @inheritdoc ILicenseMarket
    function buyLicence(uint256 certificateId, uint8 kind, address licensee, uint256 maxPrice, uint64 duration)
        external
        returns (uint256)
    {
        return _buy(certificateId, kind, licensee, maxPrice, duration);
    }

    /// @inheritdoc ILicenseMarket
    function buyLicenceWithPermit(
        uint256 certificateId,
        uint8 kind,
        address licensee,
        uint256 maxPrice,
        uint64 duration,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (uint256) {
        _permit(maxPrice, permitDeadline, v, r, s);
        return _buy(certificateId, kind, licensee, maxPrice, duration);
    }

    /// @inheritdoc ILicenseMarket
    function settleClaim(SettlementQuote calldata quote, bytes calldata signature)
        external
        returns (uint256)
    {
        return _settle(quote, signature);
    }

    /// @inheritdoc ILicenseMarket
    function settleClaimWithPermit(
        SettlementQuote calldata quote,
        bytes calldata signature,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (uint256) {
        _permit(quote.amount, permitDeadline, v, r, s);
        return _settle(quote, signature);
    }

    /// @inheritdoc ILicenseMarket
    function setPlatformFee(uint16 feeBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setPlatformFee(feeBps);
    }

    /// @inheritdoc ILicenseMarket
    function setTreasury(address newTreasury) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setTreasury(newTreasury);
    }

    /// @inheritdoc ILicenseMarket
    function isLicensed(uint256 certificateId, address licensee, uint8 kind) external view returns (bool) {
        return block.timestamp < _licences[_licenceKey(certificateId, licensee, kind)].end;
    }

    /// @inheritdoc ILicenseMarket
    function licensedUntil(uint256 certificateId, address licensee, uint8 kind) external view returns (uint64) {
        return _licences[_licenceKey(certificateId, licensee, kind)].end;
    }

    /// @inheritdoc ILicenseMarket
    function offerOf(uint256 certificateId, uint8 kind)
        external
        view
        returns (bool live, uint256 price, uint64 duration)
    {
        Offer memory offer = _offers[certificateId][kind];
        // `standing` answers three facts at once; a view of the offer does not need the holder (docs/security.md).
        // slither-disable-next-line unused-return
        (, uint32 holding, bool disputed) = certificates.standing(certificateId);
        return (offer.active && offer.holding == holding && !disputed, offer.price, offer.duration);
    }

    /// @inheritdoc ILicenseMarket
    function isSettled(bytes32 caseId) external view returns (bool) {
        return _settled[caseId];
    }

    /// @inheritdoc ILicenseMarket
    function platformFeeBps() external view returns (uint16) {
        return _config.feeBps;
    }

    /// @inheritdoc ILicenseMarket
    function treasury() external view returns (address) {
        return _config.treasury;
    }

    /// @inheritdoc ILicenseMarket
    function licenceIdOf(uint256 certificateId, address licensee, uint8 kind, uint32 serial)
        public
        pure
        returns (uint256)
    {
        return uint256(keccak256(abi.encode(certificateId, licensee, kind, serial)));
    }

    /// @inheritdoc ILicenseMarket
    function licenceSerial(uint256 certificateId, address licensee, uint8 kind) external view returns (uint32) {
        return _licences[_licenceKey(certificateId, licensee, kind)].serial;
    }

    function _buy(uint256 certificateId, uint8 kind, address licensee, uint256 maxPrice, uint64 duration)
        private
        returns (uint256 licenceId)
    {
        if (licensee == address(0)) revert LicenseMarketInvalidLicensee();
        Offer memory offer = _offers[certificateId][kind];
        (address holder, uint32 holding, bool disputed) = certificates.standing(certificateId);
        if (!offer.active || offer.holding != holding) revert LicenseMarketNoOffer(certificateId, kind);
        if (disputed) revert LicenseMarketCertificateDisputed(certificateId);
        if (offer.price > maxPrice) revert LicenseMarketPriceAboveLimit(offer.price, maxPrice);
        // The buyer names the terms it saw, so a holder cannot shorten the licence under a pending purchase.
        if (offer.duration != duration) revert LicenseMarketOfferChanged(offer.duration, duration);

        Config memory config = _config;
        uint256 fee = uint256(offer.price) * config.feeBps / _BPS;
        licenceId = _grant(
            Sale({
                certificateId: certificateId,
                kind: kind,
                licensee: licensee,
                price: offer.price,
                duration: offer.duration,
                holder: holder,
                holderAmount: offer.price - fee,
                renewPerpetual: false
            })
        );
        _collect(holder, offer.price - fee, config.treasury, fee);
    }

    function _settle(SettlementQuote calldata quote, bytes calldata signature) private returns (uint256 licenceId) {
        if (msg.sender != quote.payer) revert LicenseMarketNotPayer(msg.sender, quote.payer);
        if (block.timestamp > quote.deadline) revert LicenseMarketQuoteExpired(quote.deadline, block.timestamp);
        if (quote.amount == 0 || quote.holderShareBps > _BPS) revert LicenseMarketInvalidQuote();
        if (quote.kind == 0) revert LicenseMarketInvalidKind(quote.kind);
        if (_settled[quote.caseId]) revert LicenseMarketCaseSettled(quote.caseId);
        address signer =
            ECDSA.recover(_hashTypedDataV4(keccak256(abi.encode(SETTLEMENT_QUOTE_TYPEHASH, quote))), signature);
        if (!hasRole(SETTLEMENT_ROLE, signer)) revert LicenseMarketInvalidQuoteSigner(signer);
        // A settlement pays whoever holds the certificate now; it does not need the holding counter (docs/security.md).
        // slither-disable-next-line unused-return
        (address holder,, bool disputed) = certificates.standing(quote.certificateId);
        if (holder == address(0)) revert LicenseMarketUnknownCertificate(quote.certificateId);
        if (disputed) revert LicenseMarketCertificateDisputed(quote.certificateId);

        _settled[quote.caseId] = true;
        // The platform's share is rounded down, so the holder receives any remainder.
        uint256 platformAmount = quote.amount * (_BPS - quote.holderShareBps) / _BPS;
        uint256 holderAmount = quote.amount - platformAmount;
        Config memory config = _config;
        licenceId = _grant(
            Sale({
                certificateId: quote.certificateId,
                kind: quote.kind,
                licensee: quote.payer,
                price: quote.amount,
                duration: quote.licenceDuration,
                holder: holder,
                holderAmount: holderAmount,
                renewPerpetual: true
            })
        );
        emit ClaimSettled(
            quote.caseId, quote.certificateId, quote.payer, licenceId, holder, holderAmount, config.treasury,
            platformAmount
        );
        _collect(holder, holderAmount, config.treasury, platformAmount);
    }

    /// @dev Records a licence and emits its record. A term licence bought while one is running starts when the
    /// running one ends; a perpetual licence is not sold twice (a settlement keeps it and records the payment).
    function _grant(Sale memory sale) private returns (uint256 licenceId) {
        bytes32 key = _licenceKey(sale.certificateId, sale.licensee, sale.kind);
        LicenceState memory state = _licences[key];
        if (state.end == PERPETUAL && !sale.renewPerpetual) {
            revert LicenseMarketAlreadyPerpetual(sale.certificateId, sale.licensee, sale.kind);
        }
        uint64 start = uint64(block.timestamp);
        uint64 end;
        if (sale.duration == 0 || state.end == PERPETUAL) {
            end = PERPETUAL;
        } else {
            if (state.end > start) start = state.end;
            uint256 until = uint256(start) + sale.duration;
            end = until >= PERPETUAL ? PERPETUAL - 1 : uint64(until);
        }
        // A serial wraps after 2**32 licences of one licensee, kind and certificate; each costs a payment.
        unchecked {
            state.serial += 1;
        }
        _licences[key] = LicenceState({end: end, serial: state.serial});
        licenceId = licenceIdOf(sale.certificateId, sale.licensee, sale.kind, state.serial);
        emit LicencePurchased(
            licenceId,
            sale.certificateId,
            sale.licensee,
            sale.kind,
            start,
            end,
            sale.price,
            sale.holder,
            sale.price - sale.holderAmount
        );
    }

    /// @dev Pulls the payment from the caller straight to the holder and the treasury.
    function _collect(address holder, uint256 holderAmount, address to, uint256 platformAmount) private {
        if (holderAmount != 0) cpy.safeTransferFrom(msg.sender, holder, holderAmount);
        if (platformAmount != 0) cpy.safeTransferFrom(msg.sender, to, platformAmount);
    }

    /// @dev Applies a permit; if it fails (for instance because someone submitted it first), goes on when the
    /// allowance already covers `value`, and otherwise reverts with the permit's own error.
    function _permit(uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s) private {
        try IERC20Permit(address(cpy)).permit(msg.sender, address(this), value, deadline, v, r, s) {}
        catch (bytes memory reason) {
            if (cpy.allowance(msg.sender, address(this)) < value) LowLevelCall.bubbleRevert(reason);
        }
    }

    function _requireHolder(uint256 certificateId) private view returns (address holder, uint32 holding) {
        // Offers may be published and withdrawn while disputed, so the dispute flag is not needed (docs/security.md).
        // slither-disable-next-line unused-return
        (holder, holding,) = certificates.standing(certificateId);
        if (holder != msg.sender) revert LicenseMarketNotHolder(certificateId, msg.sender, holder);
    }

    function _setPlatformFee(uint16 feeBps) private {
        if (feeBps > MAX_FEE_BPS) revert LicenseMarketFeeTooHigh(feeBps, MAX_FEE_BPS);
        emit PlatformFeeChanged(_config.feeBps, feeBps);
        _config.feeBps = feeBps;
    }

    function _setTreasury(address newTreasury) private {
        if (newTreasury == address(0)) revert LicenseMarketInvalidTreasury();
        emit TreasuryChanged(_config.treasury, newTreasury);
        _config.treasury = newTreasury;
    }

    function _licenceKey(uint256 certificateId, address licensee, uint8 kind) private pure returns (bytes32) {
        return keccak256(abi.encode(certificateId, licensee, kind));
    }
}
