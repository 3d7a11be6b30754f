// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.28;

/// @title Tracemark licence market and claim settlement
/// @notice Holders publish licence offers per certificate and usage kind; buyers pay in CPY and get a
/// licence record. Alleged infringers settle a case by paying a settlement quote signed by the platform;
/// the payment is split on-chain between the holder and the treasury and grants a post-licence.
/// @dev Usage kinds are small numbers; 0 is invalid. The platform uses 1 web, 2 print, 3 editorial,
/// 4 commercial. A licence for (certificate, licensee, kind) is valid while `block.timestamp` is below its end.
interface ILicenseMarket {
    /// @notice A published offer.
    /// @param price Price in CPY base units.
    /// @param duration Licence duration in seconds; 0 for a perpetual licence.
    /// @param holding The certificate's holding counter when the offer was published (see `standing`).
    struct Offer {
        uint96 price;
        uint64 duration;
        uint32 holding;
        bool active;
    }

    /// @notice A settlement quote signed by the platform (EIP-712 struct `SettlementQuote`).
    /// @param caseId The case the payment settles; a case settles once.
    /// @param certificateId The certificate the case is about.
    /// @param payer The account that pays, and receives the post-licence.
    /// @param amount The amount in CPY base units.
    /// @param holderShareBps The holder's share in basis points (7000 or 5000 in use); the rest goes to the treasury.
    /// @param kind The usage kind of the post-licence.
    /// @param licenceDuration The post-licence's duration in seconds; 0 for perpetual.
    /// @param deadline Last timestamp at which the quote may be paid.
    struct SettlementQuote {
        bytes32 caseId;
        uint256 certificateId;
        address payer;
        uint256 amount;
        uint16 holderShareBps;
        uint8 kind;
        uint64 licenceDuration;
        uint256 deadline;
    }

    /// @notice Emitted when a holder published or replaced an offer.
    event OfferPublished(
        uint256 indexed certificateId, uint8 indexed kind, address indexed holder, uint256 price, uint64 duration
    );
    /// @notice Emitted when a holder withdrew an offer.
    event OfferWithdrawn(uint256 indexed certificateId, uint8 indexed kind, address indexed holder);
    /// @notice Emitted for every licence, bought from an offer or granted by a settlement: the licence record.
    /// The holder received `price - platformFee`, the treasury `platformFee`; the payer is the transaction's sender.
    /// `end` is `type(uint64).max` for a perpetual licence.
    event LicencePurchased(
        uint256 indexed licenceId,
        uint256 indexed certificateId,
        address indexed licensee,
        uint8 kind,
        uint64 start,
        uint64 end,
        uint256 price,
        address holder,
        uint256 platformFee
    );
    /// @notice The receipt of a settled claim, naming every payout; the licence it granted is `licenceId`.
    event ClaimSettled(
        bytes32 indexed caseId,
        uint256 indexed certificateId,
        address indexed payer,
        uint256 licenceId,
        address holder,
        uint256 holderAmount,
        address treasury,
        uint256 platformAmount
    );
    /// @notice Emitted when the admin changed the platform fee.
    event PlatformFeeChanged(uint16 previousBps, uint16 feeBps);
    /// @notice Emitted when the admin changed the treasury.
    event TreasuryChanged(address indexed previousTreasury, address indexed treasury);

    /// @notice The usage kind 0 is not a kind.
    error LicenseMarketInvalidKind(uint8 kind);
    /// @notice An offer's price must be above zero and fit in 96 bits.
    error LicenseMarketInvalidPrice(uint256 price);
    /// @notice Only the certificate's current holder may do this.
    error LicenseMarketNotHolder(uint256 certificateId, address caller, address holder);
    /// @notice No live offer: none was published, it was withdrawn, or the certificate changed hands.
    error LicenseMarketNoOffer(uint256 certificateId, uint8 kind);
    /// @notice The offer's price is above what the buyer accepts.
    error LicenseMarketPriceAboveLimit(uint256 price, uint256 maxPrice);
    /// @notice The offer's licence duration is not the one the buyer expects (it changed before the purchase).
    error LicenseMarketOfferChanged(uint64 duration, uint64 expectedDuration);
    /// @notice The certificate is flagged as disputed; it sells no licence and settles no claim.
    error LicenseMarketCertificateDisputed(uint256 certificateId);
    /// @notice The licensee already holds a perpetual licence of this kind.
    error LicenseMarketAlreadyPerpetual(uint256 certificateId, address licensee, uint8 kind);
    /// @notice The licensee must not be the zero address.
    error LicenseMarketInvalidLicensee();
    /// @notice The platform fee exceeds `MAX_FEE_BPS`.
    error LicenseMarketFeeTooHigh(uint16 feeBps, uint16 maxFeeBps);
    /// @notice The treasury must not be the zero address.
    error LicenseMarketInvalidTreasury();
    /// @notice The quote's deadline has passed.
    error LicenseMarketQuoteExpired(uint256 deadline, uint256 timestamp);
    /// @notice The quote was not signed by an account holding the settlement role.
    error LicenseMarketInvalidQuoteSigner(address recoveredSigner);
    /// @notice The quote names another payer than the caller.
    error LicenseMarketNotPayer(address caller, address payer);
    /// @notice The case was already settled.
    error LicenseMarketCaseSettled(bytes32 caseId);
    /// @notice A quote's amount must be above zero and its holder share at most 10,000 basis points.
    error LicenseMarketInvalidQuote();
    /// @notice The CPY token and the certificate contract must be set at deployment.
    error LicenseMarketInvalidContract();
    /// @notice The certificate does not exist.
    error LicenseMarketUnknownCertificate(uint256 certificateId);

    /// @notice Publishes or replaces the caller's offer for a certificate it holds.
    /// @param certificateId The certificate.
    /// @param kind The usage kind (non-zero).
    /// @param price Price in CPY base units (non-zero).
    /// @param duration Licence duration in seconds; 0 for perpetual.
    function setOffer(uint256 certificateId, uint8 kind, uint256 price, uint64 duration) external;

    /// @notice Withdraws the caller's offer.
    /// @param certificateId The certificate.
    /// @param kind The usage kind.
    function withdrawOffer(uint256 certificateId, uint8 kind) external;

    /// @notice Buys a licence from a live offer, paying with an existing CPY allowance.
    /// @param certificateId The certificate.
    /// @param kind The usage kind.
    /// @param licensee Who holds the licence (may differ from the payer).
    /// @param maxPrice The highest price the buyer accepts (guards against a raised price).
    /// @param duration The licence duration the buyer expects, 0 for perpetual (guards against shortened terms).
    /// @return licenceId The new licence's id.
    function buyLicence(uint256 certificateId, uint8 kind, address licensee, uint256 maxPrice, uint64 duration)
        external
        returns (uint256 licenceId);

    /// @notice Buys a licence, approving the payment with an EIP-2612 permit in the same call.
    /// @dev The permit's value must be `maxPrice`. If the permit was already used (e.g. front-run), an
    /// allowance that covers the price still lets the purchase go through.
    /// @param certificateId The certificate.
    /// @param kind The usage kind.
    /// @param licensee Who holds the licence.
    /// @param maxPrice The highest price the buyer accepts, and the permit's value.
    /// @param duration The licence duration the buyer expects, 0 for perpetual.
    /// @param permitDeadline The permit's deadline.
    /// @param v The permit signature's v.
    /// @param r The permit signature's r.
    /// @param s The permit signature's s.
    /// @return licenceId The new licence's id.
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
    ) external returns (uint256 licenceId);

    /// @notice Settles a case by paying a quote signed by the platform; the caller must be the quote's payer.
    /// @param quote The settlement quote.
    /// @param signature The settlement signer's EIP-712 signature over `quote`.
    /// @return licenceId The post-licence granted to the payer.
    function settleClaim(SettlementQuote calldata quote, bytes calldata signature) external returns (uint256 licenceId);

    /// @notice Settles a case, approving the payment with an EIP-2612 permit for `quote.amount` in the same call.
    /// @param quote The settlement quote.
    /// @param signature The settlement signer's EIP-712 signature over `quote`.
    /// @param permitDeadline The permit's deadline.
    /// @param v The permit signature's v.
    /// @param r The permit signature's r.
    /// @param s The permit signature's s.
    /// @return licenceId The post-licence granted to the payer.
    function settleClaimWithPermit(
        SettlementQuote calldata quote,
        bytes calldata signature,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (uint256 licenceId);

    /// @notice Sets the platform fee on licence sales. Only for the admin.
    /// @param feeBps The fee in basis points, at most `MAX_FEE_BPS`.
    function setPlatformFee(uint16 feeBps) external;

    /// @notice Sets the treasury that receives fees and the platform's settlement share. Only for the admin.
    /// @param newTreasury The new treasury.
    function setTreasury(address newTreasury) external;

    /// @notice Whether a licensee holds a valid licence of a kind for a certificate now.
    /// @param certificateId The certificate.
    /// @param licensee The licensee.
    /// @param kind The usage kind.
    /// @return True while licensed.
    function isLicensed(uint256 certificateId, address licensee, uint8 kind) external view returns (bool);

    /// @notice When the licensee's licence of a kind ends.
    /// @param certificateId The certificate.
    /// @param licensee The licensee.
    /// @param kind The usage kind.
    /// @return The end timestamp (`type(uint64).max` for perpetual), or 0 when never licensed.
    function licensedUntil(uint256 certificateId, address licensee, uint8 kind) external view returns (uint64);

    /// @notice A certificate's offer for a kind, if it is live.
    /// @param certificateId The certificate.
    /// @param kind The usage kind.
    /// @return live Whether the offer can be bought now.
    /// @return price The price in CPY base units.
    /// @return duration The licence duration in seconds; 0 for perpetual.
    function offerOf(uint256 certificateId, uint8 kind) external view returns (bool live, uint256 price, uint64 duration);

    /// @notice Whether a case was settled.
    /// @param caseId The case.
    /// @return True once settled.
    function isSettled(bytes32 caseId) external view returns (bool);

    /// @notice The platform fee on licence sales, in basis points.
    /// @return The fee.
    function platformFeeBps() external view returns (uint16);

    /// @notice The account that receives fees and the platform's settlement share.
    /// @return The treasury.
    function treasury() external view returns (address);

    /// @notice The id of the `serial`-th licence of a licensee for a certificate and kind (serials start at 1).
    /// @param certificateId The certificate.
    /// @param licensee The licensee.
    /// @param kind The usage kind.
    /// @param serial The licence's serial number for this certificate, licensee and kind.
    /// @return `uint256(keccak256(abi.encode(certificateId, licensee, kind, serial)))`.
    function licenceIdOf(uint256 certificateId, address licensee, uint8 kind, uint32 serial)
        external
        pure
        returns (uint256);

    /// @notice How many licences a licensee has had for a certificate and kind: the serial of the latest.
    /// @param certificateId The certificate.
    /// @param licensee The licensee.
    /// @param kind The usage kind.
    /// @return The serial of the latest licence, 0 when never licensed.
    function licenceSerial(uint256 certificateId, address licensee, uint8 kind) external view returns (uint32);
}
