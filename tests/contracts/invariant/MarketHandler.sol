// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20Errors, IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {CPYToken} from "contracts/CPYToken.sol";
import {ImageCertificate} from "contracts/ImageCertificate.sol";
import {LicenseMarket} from "contracts/LicenseMarket.sol";
import {IImageCertificate} from "contracts/interfaces/IImageCertificate.sol";
import {ILicenseMarket} from "contracts/interfaces/ILicenseMarket.sol";
import {CheatCodes, Vm} from "./Vm.sol";

/// @title The accounts and keys of the invariant campaign
/// @notice Private keys are fixed so that `vm.sign` can sign attestations, quotes and permits for them.
struct Cast {
    uint256[4] actorKeys;
    address[2] treasuries;
    address admin;
    address disputer;
    uint256 verifierKey;
    uint256 settlerKey;
    uint256 outsiderKey;
}

/// @title Drives the certificate contract and the licence market through every public path
/// @notice The fuzzer calls only this contract. Each action turns its random seeds into a plausible call, predicts
/// from a ghost model whether the call succeeds and, if not, with which error, makes the call as the right
/// account, compares, and updates the model. A handler action never reverts: every call to the system is wrapped
/// in try/catch, and what went wrong is counted in public counters that the invariants require to stay zero, with
/// the first violation kept as a message.
/// @dev The model is deliberately independent of the contracts: it computes EIP-712 digests from the type strings,
/// fee splits from the basis points, and licence ends from the documented rules. From the chain it reads only
/// ERC-20 balances, allowances and permit nonces (OpenZeppelin code, to predict payment failures) and the two
/// published caps `MAX_ROYALTY_BPS` and `MAX_FEE_BPS`.
contract MarketHandler is CheatCodes {
    uint256 public constant ACTORS = 4;
    uint256 public constant IMAGES = 5;
    uint8 public constant KINDS = 4;
    uint256 public constant CASES = 16;
    uint256 private constant _BPS = 10_000;
    uint64 private constant _PERPETUAL = type(uint64).max;
    uint256 private constant _NO_ACTOR = type(uint256).max;

    bytes32 private constant _DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant _REGISTRATION_TYPEHASH = keccak256(
        "Registration(address creator,bytes32 contentHash,bytes32 metadataDigest,bytes32 fingerprint,uint16 royaltyBps,uint64 nonce,uint64 deadline)"
    );
    bytes32 private constant _QUOTE_TYPEHASH = keccak256(
        "SettlementQuote(bytes32 caseId,uint256 certificateId,address payer,uint256 amount,uint16 holderShareBps,uint8 kind,uint64 licenceDuration,uint256 deadline)"
    );
    bytes32 private constant _PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    struct Permit {
        uint256 deadline;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    struct GhostCertificate {
        bool registered;
        bool disputed;
        address holder;
    }

    struct GhostOffer {
        bool live;
        uint96 price;
        uint64 duration;
    }

    /// @dev One attempt to pay: a purchase from an offer or a settlement.
    struct Payment {
        string action;
        address payer;
        address licensee;
        uint256 licenseeIndex;
        uint256 image;
        uint256 tokenId;
        uint8 kind;
        uint256 price;
        uint256 maxPrice;
        uint64 duration;
        uint64 expectedDuration;
        address holder;
        uint256 holderAmount;
        uint256 platformAmount;
        bool disputedBefore;
        bool liveInModel;
        bytes4 expected;
        uint256[6] balancesBefore;
        bytes32 caseId;
        uint256 caseIndex;
    }

    CPYToken public immutable cpy;
    ImageCertificate public immutable certificates;
    LicenseMarket public immutable market;

    Cast private _cast;
    address[4] private _actors;

    // ---- ghost model ----
    uint256 public ghostNow;
    uint16 public ghostFeeBps;
    address public ghostTreasury;
    GhostCertificate[IMAGES] private _certificates;
    mapping(uint256 image => mapping(uint8 kind => GhostOffer)) private _offers;
    mapping(uint256 image => mapping(uint256 actor => mapping(uint8 kind => uint64 end))) private _licensedUntil;
    mapping(uint256 image => mapping(uint256 actor => mapping(uint8 kind => uint32 serial))) private _serials;
    uint256[CASES] private _settlesOfCase;
    uint256 public purchases;
    uint256 public settlements;
    uint64 private _nextNonce = 1;

    // ---- ghost money: what went in and out through the market ----
    uint256 public paidIn;
    uint256 public paidToHolders;
    uint256 public paidToTreasury;

    // ---- properties: every counter must stay zero ----
    /// @notice Licence sales that succeeded while the model held no live offer (withdrawn or changed hands).
    uint256 public staleOfferSales;
    /// @notice Offers the market reported live after the certificate changed hands.
    uint256 public staleOffersLive;
    /// @notice Licence sales of a certificate that was disputed at the time.
    uint256 public disputedSales;
    /// @notice Settlements of a certificate that was disputed at the time.
    uint256 public disputedSettlements;
    /// @notice Payments whose balance movements or receipt fields did not add up to the price.
    uint256 public payoutMismatches;
    /// @notice Calls whose outcome differed from the model's prediction.
    uint256 public modelMismatches;
    /// @notice The first violation of any kind, for the failure message.
    string public firstViolation;

    // ---- coverage, printed after each run ----
    mapping(bytes32 action => uint256 count) public succeeded;
    mapping(bytes32 action => uint256 count) public refused;

    constructor(CPYToken cpy_, ImageCertificate certificates_, LicenseMarket market_, Cast memory cast) {
        cpy = cpy_;
        certificates = certificates_;
        market = market_;
        _cast = cast;
        for (uint256 i = 0; i < ACTORS; ++i) {
            _actors[i] = vm.addr(cast.actorKeys[i]);
        }
        ghostNow = block.timestamp;
        ghostFeeBps = market_.platformFeeBps();
        ghostTreasury = market_.treasury();
    }

    /// @dev Block time is part of the model: every action runs at the model's clock, whatever forge does with the
    /// environment between calls.
    modifier step() {
        vm.warp(ghostNow);
        _;
    }

    // =====================================================================================================
    // Actions
    // =====================================================================================================

    /// @notice A verifier attests a registration (sometimes a forged one, or an excessive royalty) and a relayer
    /// submits it.
    function register(uint256 creatorSeed, uint256 relayerSeed, uint256 imageSeed, uint256 royaltySeed) external step {
        _register(
            imageSeed % IMAGES,
            _actors[creatorSeed % ACTORS],
            _actors[relayerSeed % ACTORS],
            _oneIn(royaltySeed, "royalty", 10) ? uint16(2501 + royaltySeed % 500) : uint16(royaltySeed % 2501),
            _oneIn(royaltySeed, "forged", 16)
        );
    }

    /// @notice Registers `image` for an actor with a valid attestation. Called from `setUp` only (not a fuzz target),
    /// so that campaigns start with certificates to trade.
    function registerGenesis(uint256 image, uint256 creatorIndex) external step {
        _register(image, _actors[creatorIndex], _actors[creatorIndex], 500, false);
    }

    function _register(uint256 image, address creator, address relayer, uint16 royalty, bool forged) private {
        IImageCertificate.Registration memory registration = IImageCertificate.Registration({
            creator: creator,
            contentHash: contentHashOf(image),
            metadataDigest: keccak256(abi.encode("metadata", image, _nextNonce)),
            fingerprint: keccak256(abi.encode("fingerprint", image)),
            royaltyBps: royalty,
            nonce: _nextNonce,
            deadline: uint64(ghostNow + 1 days)
        });
        _nextNonce += 1;
        bytes memory signature = _signature(
            forged ? _cast.outsiderKey : _cast.verifierKey,
            _digest(_domain("Tracemark ImageCertificate", address(certificates)), _registrationHash(registration))
        );

        bytes4 expected;
        if (royalty > certificates.MAX_ROYALTY_BPS()) {
            expected = IImageCertificate.CertificateRoyaltyTooHigh.selector;
        } else if (forged) {
            expected = IImageCertificate.CertificateInvalidAttestation.selector;
        } else if (_certificates[image].registered) {
            expected = IImageCertificate.CertificateAlreadyRegistered.selector;
        }

        bool ok;
        bytes memory reason;
        vm.prank(relayer);
        try certificates.register(registration, signature) returns (uint256 tokenId) {
            ok = true;
            if (tokenId != tokenIdOf(image)) {
                _violation(modelMismatches++, "register: token id is not the content hash");
            }
        } catch (bytes memory r) {
            reason = r;
        }
        if (_outcome("register", expected, ok, reason)) {
            _certificates[image] = GhostCertificate({registered: true, disputed: false, holder: creator});
        }
    }

    /// @notice The holder moves a certificate to an actor (possibly itself) by one of the ERC-721 paths, or a
    /// stranger without approval tries to.
    function transferCertificate(uint256 imageSeed, uint256 toSeed, uint256 modeSeed) external step {
        uint256 image = _pickImage(imageSeed);
        GhostCertificate memory certificate = _certificates[image];
        if (!certificate.registered) return _skip("transfer");
        uint256 tokenId = tokenIdOf(image);
        address from = certificate.holder;
        address to = _actors[toSeed % ACTORS];
        address other = _otherActor(from, toSeed >> 8);
        uint256 mode = _mode(modeSeed, "transfer", 5); // 0..3: the ERC-721 paths, 4: a stranger

        bytes4 expected;
        address sender = from;
        if (mode == 2) {
            vm.prank(from);
            certificates.approve(other, tokenId);
            sender = other;
        } else if (mode == 3) {
            vm.prank(from);
            certificates.setApprovalForAll(other, true);
            sender = other;
        } else if (mode == 4) {
            sender = other;
            expected = IERC721Errors.ERC721InsufficientApproval.selector;
        }

        bool ok;
        bytes memory reason;
        vm.prank(sender);
        if (mode % 2 == 0) {
            try certificates.transferFrom(from, to, tokenId) {
                ok = true;
            } catch (bytes memory r) {
                reason = r;
            }
        } else {
            try certificates.safeTransferFrom(from, to, tokenId) {
                ok = true;
            } catch (bytes memory r) {
                reason = r;
            }
        }
        if (mode == 3) {
            vm.prank(from);
            certificates.setApprovalForAll(other, false);
        }
        if (_outcome("transfer", expected, ok, reason)) _changeHands(image, to);
    }

    /// @notice The holder publishes an offer, sends the certificate away and gets it back (A -> B -> A); the
    /// offer must be dead, and buying it must fail with `LicenseMarketNoOffer`.
    function roundTrip(uint256 imageSeed, uint256 viaSeed, uint256 kindSeed, uint256 priceSeed, uint256 buyerSeed)
        external
        step
    {
        uint256 image = _pickImage(imageSeed);
        GhostCertificate memory certificate = _certificates[image];
        if (!certificate.registered) return _skip("roundTrip");
        uint256 tokenId = tokenIdOf(image);
        address holder = certificate.holder;
        address via = _otherActor(holder, viaSeed);
        uint8 kind = _kind(kindSeed);
        uint256 price = _price(priceSeed);

        vm.prank(holder);
        market.setOffer(tokenId, kind, price, 0);
        _offers[image][kind] = GhostOffer({live: true, price: uint96(price), duration: 0});
        (bool liveBefore,,) = market.offerOf(tokenId, kind);
        if (liveBefore == certificate.disputed) _violation(modelMismatches++, "roundTrip: fresh offer liveness wrong");

        vm.prank(holder);
        certificates.transferFrom(holder, via, tokenId);
        _changeHands(image, via);
        vm.prank(via);
        certificates.safeTransferFrom(via, holder, tokenId);
        _changeHands(image, holder);

        (bool liveAfter,,) = market.offerOf(tokenId, kind);
        if (liveAfter) _violation(staleOffersLive++, "roundTrip: offer still live after A -> B -> A");

        address buyer = _actors[buyerSeed % ACTORS];
        vm.prank(buyer);
        cpy.approve(address(market), price);
        bool ok;
        bytes memory reason;
        vm.prank(buyer);
        try market.buyLicence(tokenId, kind, buyer, price, 0) {
            ok = true;
            _violation(staleOfferSales++, "roundTrip: a licence was sold from an offer of the previous holding");
        } catch (bytes memory r) {
            reason = r;
        }
        _outcome("staleOfferPurchase", ILicenseMarket.LicenseMarketNoOffer.selector, ok, reason);
        vm.prank(buyer);
        cpy.approve(address(market), 0);
        succeeded[keccak256("roundTrip")] += 1;
    }

    /// @notice The holder (or sometimes a stranger) publishes or replaces an offer, valid or not.
    function setOffer(uint256 imageSeed, uint256 kindSeed, uint256 priceSeed, uint256 durationSeed, uint256 callerSeed)
        external
        step
    {
        uint256 image = _pickImage(imageSeed);
        GhostCertificate memory certificate = _certificates[image];
        uint8 kind = _oneIn(kindSeed, "kind zero", 20) ? 0 : _kind(kindSeed);
        uint256 price = _price(priceSeed);
        uint256 priceMode = _mode(priceSeed, "offer price", 30);
        if (priceMode == 0) price = 0;
        if (priceMode == 1) price = uint256(type(uint96).max) + 1 + (priceSeed >> 8) % 1000;
        uint64 duration = _duration(durationSeed);
        address caller = _caller(certificate, callerSeed);

        bytes4 expected;
        if (kind == 0) {
            expected = ILicenseMarket.LicenseMarketInvalidKind.selector;
        } else if (price == 0 || price > type(uint96).max) {
            expected = ILicenseMarket.LicenseMarketInvalidPrice.selector;
        } else if (caller != certificate.holder) {
            expected = ILicenseMarket.LicenseMarketNotHolder.selector;
        }

        bool ok;
        bytes memory reason;
        vm.prank(caller);
        try market.setOffer(tokenIdOf(image), kind, price, duration) {
            ok = true;
        } catch (bytes memory r) {
            reason = r;
        }
        if (_outcome("setOffer", expected, ok, reason)) {
            _offers[image][kind] = GhostOffer({live: true, price: uint96(price), duration: duration});
        }
    }

    /// @notice The holder (or sometimes a stranger) withdraws an offer.
    function withdrawOffer(uint256 imageSeed, uint256 kindSeed, uint256 callerSeed) external step {
        (uint256 image, uint8 kind) = _pickOffer(imageSeed, kindSeed);
        GhostCertificate memory certificate = _certificates[image];
        address caller = _caller(certificate, callerSeed);
        bytes4 expected = caller == certificate.holder ? bytes4(0) : ILicenseMarket.LicenseMarketNotHolder.selector;

        bool ok;
        bytes memory reason;
        vm.prank(caller);
        try market.withdrawOffer(tokenIdOf(image), kind) {
            ok = true;
        } catch (bytes memory r) {
            reason = r;
        }
        if (_outcome("withdrawOffer", expected, ok, reason)) delete _offers[image][kind];
    }

    /// @notice A buyer approves `maxPrice` and buys a licence for a licensee, naming the duration it expects
    /// (sometimes not the offer's: see `_expectedDuration`).
    function buyLicence(
        uint256 buyerSeed,
        uint256 licenseeSeed,
        uint256 imageSeed,
        uint256 kindSeed,
        uint256 maxSeed,
        uint256 termsSeed
    ) external step {
        Payment memory p = _purchase("buyLicence", buyerSeed, licenseeSeed, imageSeed, kindSeed, maxSeed, termsSeed);
        vm.prank(p.payer);
        cpy.approve(address(market), p.maxPrice);
        p.expected = _predictPurchase(p, p.maxPrice);

        _before(p);
        bool ok;
        bytes memory reason;
        vm.prank(p.payer);
        try market.buyLicence(p.tokenId, p.kind, p.licensee, p.maxPrice, p.expectedDuration) returns (
            uint256 licenceId
        ) {
            ok = true;
            _checkLicenceId(p, licenceId);
        } catch (bytes memory r) {
            reason = r;
        }
        _after(p, ok, reason);
    }

    /// @notice A buyer signs an EIP-2612 permit (fresh, expired or replayed) and buys in the same call; a failed
    /// permit is fine only when an earlier allowance covers `maxPrice`.
    function buyLicenceWithPermit(
        uint256 buyerSeed,
        uint256 licenseeSeed,
        uint256 imageSeed,
        uint256 kindSeed,
        uint256 maxSeed,
        uint256 termsSeed,
        uint256 permitSeed
    ) external step {
        Payment memory p = _purchase(
            "buyLicenceWithPermit", buyerSeed, licenseeSeed, imageSeed, kindSeed, maxSeed, termsSeed
        );
        uint256 mode = _mode(permitSeed, "permit", 8); // 0: expired, 1: replayed (old nonce), otherwise fresh
        uint256 nonce = cpy.nonces(p.payer);
        if (mode == 1) nonce = nonce == 0 ? 1 : nonce - 1;
        Permit memory permit = _signPermit(p.payer, p.maxPrice, nonce, mode == 0 ? ghostNow - 1 : ghostNow + 1 hours);

        uint256 allowance = cpy.allowance(p.payer, address(market));
        if (mode >= 2) {
            p.expected = _predictPurchase(p, p.maxPrice);
        } else if (allowance >= p.maxPrice) {
            p.expected = _predictPurchase(p, allowance);
        } else {
            p.expected =
                mode == 0 ? ERC20Permit.ERC2612ExpiredSignature.selector : ERC20Permit.ERC2612InvalidSigner.selector;
        }

        _before(p);
        bool ok;
        bytes memory reason;
        vm.prank(p.payer);
        try market.buyLicenceWithPermit(
            p.tokenId, p.kind, p.licensee, p.maxPrice, p.expectedDuration, permit.deadline, permit.v, permit.r, permit.s
        ) returns (
            uint256 licenceId
        ) {
            ok = true;
            _checkLicenceId(p, licenceId);
        } catch (bytes memory reason_) {
            reason = reason_;
        }
        _after(p, ok, reason);
    }

    /// @notice The platform signs a settlement quote (sometimes forged, expired, malformed, for a case already
    /// settled or paid by someone else) and the payer pays it, with an allowance or a permit.
    function settleClaim(uint256 payerSeed, uint256 imageSeed, uint256 caseSeed, uint256 amountSeed, uint256 quoteSeed)
        external
        step
    {
        Payment memory p;
        p.action = "settleClaim";
        p.image = _pickImage(imageSeed);
        p.tokenId = tokenIdOf(p.image);
        p.licenseeIndex = payerSeed % ACTORS;
        p.payer = _actors[p.licenseeIndex];
        p.licensee = p.payer;
        p.caseIndex = caseSeed % CASES;
        p.caseId = caseIdOf(p.caseIndex);
        uint256 mode = _mode(quoteSeed, "quote", 20);

        ILicenseMarket.SettlementQuote memory quote = ILicenseMarket.SettlementQuote({
            caseId: p.caseId,
            certificateId: p.tokenId,
            payer: p.payer,
            amount: mode == 3 ? 0 : _price(amountSeed),
            holderShareBps: _holderShare(quoteSeed >> 8, mode == 4),
            kind: mode == 5 ? 0 : _kind(quoteSeed >> 24),
            licenceDuration: _duration(quoteSeed >> 32),
            deadline: mode == 1 ? ghostNow - 1 : ghostNow + 1 days
        });
        p.kind = quote.kind;
        p.price = quote.amount;
        p.maxPrice = quote.amount;
        p.duration = quote.licenceDuration;
        bytes memory signature = _signature(
            mode == 0 ? _cast.outsiderKey : _cast.settlerKey,
            _digest(_domain("Tracemark LicenseMarket", address(market)), _quoteHash(quote))
        );
        address sender = mode == 2 ? _otherActor(p.payer, amountSeed) : p.payer;
        bool withPermit = mode >= 6 && mode < 12;

        p.expected = _predictSettlement(p, quote, sender, mode == 0);
        if (p.expected == bytes4(0) && !withPermit) {
            vm.prank(p.payer);
            cpy.approve(address(market), quote.amount);
            p.expected = _predictPayment(p, quote.amount);
        } else if (!withPermit) {
            vm.prank(sender);
            cpy.approve(address(market), quote.amount);
        } else if (p.expected == bytes4(0)) {
            p.expected = _predictPayment(p, quote.amount);
        }

        _before(p);
        bool ok;
        bytes memory reason;
        if (withPermit) {
            (ok, reason) = _settleWithPermit(p, quote, signature);
        } else {
            vm.prank(sender);
            try market.settleClaim(quote, signature) returns (uint256 licenceId) {
                ok = true;
                _checkLicenceId(p, licenceId);
            } catch (bytes memory r) {
                reason = r;
            }
        }
        _after(p, ok, reason);
    }

    /// @notice The admin (or sometimes a stranger) sets the platform fee, within the cap or above it.
    function setPlatformFee(uint256 feeSeed, uint256 callerSeed) external step {
        uint16 fee = _oneIn(feeSeed, "fee", 10) ? uint16(3001 + feeSeed % 1000) : uint16(feeSeed % 3001);
        address caller = _oneIn(callerSeed, "stranger", 8) ? _actors[callerSeed % ACTORS] : _cast.admin;
        bytes4 expected;
        if (caller != _cast.admin) {
            expected = IAccessControl.AccessControlUnauthorizedAccount.selector;
        } else if (fee > market.MAX_FEE_BPS()) {
            expected = ILicenseMarket.LicenseMarketFeeTooHigh.selector;
        }
        bool ok;
        bytes memory reason;
        vm.prank(caller);
        try market.setPlatformFee(fee) {
            ok = true;
        } catch (bytes memory r) {
            reason = r;
        }
        if (_outcome("setPlatformFee", expected, ok, reason)) ghostFeeBps = fee;
    }

    /// @notice The admin moves the treasury between the two treasury accounts.
    function setTreasury(uint256 seed) external step {
        address next = _cast.treasuries[seed % 2];
        bool ok;
        bytes memory reason;
        vm.prank(_cast.admin);
        try market.setTreasury(next) {
            ok = true;
        } catch (bytes memory r) {
            reason = r;
        }
        if (_outcome("setTreasury", bytes4(0), ok, reason)) ghostTreasury = next;
    }

    /// @notice The dispute role (or sometimes a stranger) flags a certificate as disputed.
    function flagDispute(uint256 imageSeed, uint256 callerSeed) external step {
        uint256 image = _pickImage(imageSeed);
        GhostCertificate memory certificate = _certificates[image];
        address caller = _oneIn(callerSeed, "stranger", 8) ? _actors[callerSeed % ACTORS] : _cast.disputer;
        bytes4 expected;
        if (caller != _cast.disputer) {
            expected = IAccessControl.AccessControlUnauthorizedAccount.selector;
        } else if (!certificate.registered) {
            expected = IERC721Errors.ERC721NonexistentToken.selector;
        } else if (certificate.disputed) {
            expected = IImageCertificate.CertificateAlreadyDisputed.selector;
        }
        bool ok;
        bytes memory reason;
        vm.prank(caller);
        try certificates.flagDisputed(tokenIdOf(image), "bafkreievidence") {
            ok = true;
        } catch (bytes memory r) {
            reason = r;
        }
        if (_outcome("flagDispute", expected, ok, reason)) _certificates[image].disputed = true;
    }

    /// @notice The dispute role (or sometimes a stranger) clears a dispute.
    function clearDispute(uint256 imageSeed, uint256 callerSeed) external step {
        uint256 image = _pickDisputed(imageSeed);
        GhostCertificate memory certificate = _certificates[image];
        address caller = _oneIn(callerSeed, "stranger", 8) ? _actors[callerSeed % ACTORS] : _cast.disputer;
        bytes4 expected;
        if (caller != _cast.disputer) {
            expected = IAccessControl.AccessControlUnauthorizedAccount.selector;
        } else if (!certificate.registered) {
            expected = IERC721Errors.ERC721NonexistentToken.selector;
        } else if (!certificate.disputed) {
            expected = IImageCertificate.CertificateNotDisputed.selector;
        }
        bool ok;
        bytes memory reason;
        vm.prank(caller);
        try certificates.clearDispute(tokenIdOf(image), "bafkreiresolution") {
            ok = true;
        } catch (bytes memory r) {
            reason = r;
        }
        if (_outcome("clearDispute", expected, ok, reason)) _certificates[image].disputed = false;
    }

    /// @notice Time passes: up to 45 days, so term licences run out.
    function warp(uint256 secondsSeed) external {
        ghostNow += 1 + secondsSeed % 45 days;
        vm.warp(ghostNow);
        succeeded[keccak256("warp")] += 1;
    }

    /// @notice A treasury sends CPY back to an actor, so that the actors do not run dry over a long run.
    function grant(uint256 actorSeed, uint256 amountSeed) external step {
        address from = _cast.treasuries[amountSeed % 2];
        uint256 amount = 1 + (amountSeed >> 8) % 5_000e18;
        bytes4 expected = cpy.balanceOf(from) >= amount ? bytes4(0) : IERC20Errors.ERC20InsufficientBalance.selector;
        bool ok;
        bytes memory reason;
        vm.prank(from);
        try cpy.transfer(_actors[actorSeed % ACTORS], amount) {
            ok = true;
        } catch (bytes memory r) {
            reason = r;
        }
        _outcome("grant", expected, ok, reason);
    }

    // =====================================================================================================
    // Views for the invariants
    // =====================================================================================================

    function actor(uint256 index) external view returns (address) {
        return _actors[index];
    }

    function treasury(uint256 index) external view returns (address) {
        return _cast.treasuries[index];
    }

    function ghostCertificate(uint256 image) external view returns (GhostCertificate memory) {
        return _certificates[image];
    }

    function ghostOffer(uint256 image, uint8 kind) external view returns (GhostOffer memory) {
        return _offers[image][kind];
    }

    function ghostLicensedUntil(uint256 image, uint256 actorIndex, uint8 kind) external view returns (uint64) {
        return _licensedUntil[image][actorIndex][kind];
    }

    function ghostSerial(uint256 image, uint256 actorIndex, uint8 kind) external view returns (uint32) {
        return _serials[image][actorIndex][kind];
    }

    function settlesOfCase(uint256 caseIndex) external view returns (uint256) {
        return _settlesOfCase[caseIndex];
    }

    function contentHashOf(uint256 image) public pure returns (bytes32) {
        return keccak256(abi.encode("tracemark.invariant.image", image));
    }

    function tokenIdOf(uint256 image) public pure returns (uint256) {
        return uint256(contentHashOf(image));
    }

    function caseIdOf(uint256 caseIndex) public pure returns (bytes32) {
        return keccak256(abi.encode("tracemark.invariant.case", caseIndex));
    }

    // =====================================================================================================
    // Purchases and settlements
    // =====================================================================================================

    function _purchase(
        string memory action,
        uint256 buyerSeed,
        uint256 licenseeSeed,
        uint256 imageSeed,
        uint256 kindSeed,
        uint256 maxSeed,
        uint256 termsSeed
    ) private view returns (Payment memory p) {
        p.action = action;
        p.payer = _actors[buyerSeed % ACTORS];
        if (_oneIn(licenseeSeed, "no licensee", 40)) {
            p.licenseeIndex = _NO_ACTOR;
        } else {
            p.licenseeIndex = licenseeSeed % ACTORS;
            p.licensee = _actors[p.licenseeIndex];
        }
        (p.image, p.kind) = _pickOffer(imageSeed, kindSeed);
        p.tokenId = tokenIdOf(p.image);
        GhostOffer memory offer = _offers[p.image][p.kind];
        p.liveInModel = offer.live;
        p.price = offer.price;
        p.duration = offer.duration;
        p.expectedDuration = _expectedDuration(offer.duration, termsSeed);
        if (!offer.live) {
            p.maxPrice = _price(maxSeed);
        } else if (_oneIn(maxSeed, "below price", 10)) {
            p.maxPrice = offer.price - 1; // below the price: refused
        } else {
            p.maxPrice = uint256(offer.price) + (maxSeed >> 8) % 3;
        }
    }

    /// @dev The error a purchase must fail with, or 0, in the order the market checks.
    function _predictPurchase(Payment memory p, uint256 allowance) private view returns (bytes4) {
        GhostCertificate memory certificate = _certificates[p.image];
        if (p.licensee == address(0)) return ILicenseMarket.LicenseMarketInvalidLicensee.selector;
        if (!p.liveInModel) return ILicenseMarket.LicenseMarketNoOffer.selector;
        if (certificate.disputed) return ILicenseMarket.LicenseMarketCertificateDisputed.selector;
        if (p.price > p.maxPrice) return ILicenseMarket.LicenseMarketPriceAboveLimit.selector;
        if (p.expectedDuration != p.duration) return ILicenseMarket.LicenseMarketOfferChanged.selector;
        if (_licensedUntil[p.image][p.licenseeIndex][p.kind] == _PERPETUAL) {
            return ILicenseMarket.LicenseMarketAlreadyPerpetual.selector;
        }
        p.holder = certificate.holder;
        p.platformAmount = p.price * ghostFeeBps / _BPS;
        p.holderAmount = p.price - p.platformAmount;
        return _predictPayment(p, allowance);
    }

    /// @dev The error a settlement must fail with before any payment, or 0, in the order the market checks.
    function _predictSettlement(
        Payment memory p,
        ILicenseMarket.SettlementQuote memory quote,
        address sender,
        bool forged
    ) private view returns (bytes4) {
        GhostCertificate memory certificate = _certificates[p.image];
        if (sender != quote.payer) return ILicenseMarket.LicenseMarketNotPayer.selector;
        if (ghostNow > quote.deadline) return ILicenseMarket.LicenseMarketQuoteExpired.selector;
        if (quote.amount == 0 || quote.holderShareBps > _BPS) return ILicenseMarket.LicenseMarketInvalidQuote.selector;
        if (quote.kind == 0) return ILicenseMarket.LicenseMarketInvalidKind.selector;
        if (_settlesOfCase[p.caseIndex] != 0) return ILicenseMarket.LicenseMarketCaseSettled.selector;
        if (forged) return ILicenseMarket.LicenseMarketInvalidQuoteSigner.selector;
        if (!certificate.registered) return ILicenseMarket.LicenseMarketUnknownCertificate.selector;
        if (certificate.disputed) return ILicenseMarket.LicenseMarketCertificateDisputed.selector;
        p.holder = certificate.holder;
        p.platformAmount = quote.amount * (_BPS - quote.holderShareBps) / _BPS;
        p.holderAmount = quote.amount - p.platformAmount;
        return bytes4(0);
    }

    /// @dev Replays the two `transferFrom`s of a payment (holder share first, then the platform's) on the payer's
    /// balance and allowance, and returns the ERC-20 error the first one that cannot go through would raise.
    function _predictPayment(Payment memory p, uint256 allowance) private view returns (bytes4) {
        uint256 balance = cpy.balanceOf(p.payer);
        if (p.holderAmount != 0) {
            if (allowance < p.holderAmount) return IERC20Errors.ERC20InsufficientAllowance.selector;
            if (balance < p.holderAmount) return IERC20Errors.ERC20InsufficientBalance.selector;
            allowance -= p.holderAmount;
            if (p.payer != p.holder) balance -= p.holderAmount;
        }
        if (p.platformAmount != 0) {
            if (allowance < p.platformAmount) return IERC20Errors.ERC20InsufficientAllowance.selector;
            if (balance < p.platformAmount) return IERC20Errors.ERC20InsufficientBalance.selector;
        }
        return bytes4(0);
    }

    function _settleWithPermit(Payment memory p, ILicenseMarket.SettlementQuote memory quote, bytes memory signature)
        private
        returns (bool ok, bytes memory reason)
    {
        Permit memory permit = _signPermit(p.payer, quote.amount, cpy.nonces(p.payer), ghostNow + 1 hours);
        vm.prank(p.payer);
        try market.settleClaimWithPermit(quote, signature, permit.deadline, permit.v, permit.r, permit.s) returns (
            uint256 licenceId
        ) {
            ok = true;
            _checkLicenceId(p, licenceId);
        } catch (bytes memory reason_) {
            reason = reason_;
        }
    }

    function _before(Payment memory p) private {
        p.disputedBefore = _certificates[p.image].registered && certificates.isDisputed(p.tokenId);
        p.balancesBefore = _balances();
        vm.recordLogs();
    }

    function _checkLicenceId(Payment memory p, uint256 licenceId) private {
        if (licenceId != _nextLicenceId(p)) _violation(modelMismatches++, string.concat(p.action, ": licence id"));
    }

    /// @dev `keccak256(abi.encode(certificate, licensee, kind, serial))` with the serial after this payment.
    function _nextLicenceId(Payment memory p) private view returns (uint256) {
        uint32 serial = _serials[p.image][p.licenseeIndex][p.kind] + 1;
        return uint256(keccak256(abi.encode(p.tokenId, p.licensee, p.kind, serial)));
    }

    /// @dev Compares the outcome with the prediction; on success checks every balance movement and the receipt
    /// events, then brings the model forward.
    function _after(Payment memory p, bool ok, bytes memory reason) private {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        if (!_outcome(p.action, p.expected, ok, reason)) {
            _checkOfferChanged(p, reason);
            return;
        }

        bool settlement = p.caseId != bytes32(0);
        if (p.disputedBefore) {
            if (settlement) _violation(disputedSettlements++, "settleClaim: a disputed certificate settled a claim");
            else _violation(disputedSales++, string.concat(p.action, ": a disputed certificate sold a licence"));
        }
        if (!settlement && !p.liveInModel) {
            _violation(staleOfferSales++, string.concat(p.action, ": sold from an offer that is no longer live"));
        }
        // A payment the model refused has no split to compare with: `_outcome` has recorded the violation.
        if (p.expected != bytes4(0)) return;
        if (p.holderAmount + p.platformAmount != p.price) {
            _violation(payoutMismatches++, string.concat(p.action, ": the model's split does not add up"));
        }
        _checkBalances(p);
        (uint64 start, uint64 end) = _grant(p);
        _checkReceipts(p, logs, start, end);
        _serials[p.image][p.licenseeIndex][p.kind] += 1;

        paidIn += p.price;
        paidToHolders += p.holderAmount;
        paidToTreasury += p.platformAmount;
        if (settlement) {
            settlements += 1;
            _settlesOfCase[p.caseIndex] += 1;
            if (!market.isSettled(p.caseId)) _violation(modelMismatches++, "settleClaim: case not marked settled");
        } else {
            purchases += 1;
        }
        if (!market.isLicensed(p.tokenId, p.licensee, p.kind)) {
            _violation(modelMismatches++, string.concat(p.action, ": licensee not licensed right after paying"));
        }
    }

    /// @dev A purchase refused for changed terms names the offer's live duration and the one the buyer expected;
    /// counted as `changedTerms` in the coverage.
    function _checkOfferChanged(Payment memory p, bytes memory reason) private {
        bytes4 selector = ILicenseMarket.LicenseMarketOfferChanged.selector;
        if (p.expected != selector || reason.length < 4 || bytes4(reason) != selector) return;
        refused[keccak256("changedTerms")] += 1;
        if (keccak256(reason) != keccak256(abi.encodeWithSelector(selector, p.duration, p.expectedDuration))) {
            _violation(modelMismatches++, string.concat(p.action, ": LicenseMarketOfferChanged names other durations"));
        }
    }

    /// @dev The licence rules: a term licence bought while one runs starts when it ends; a perpetual one ends
    /// never; a settlement on top of a perpetual licence keeps it perpetual.
    function _grant(Payment memory p) private returns (uint64 start, uint64 end) {
        uint64 current = _licensedUntil[p.image][p.licenseeIndex][p.kind];
        start = uint64(ghostNow);
        if (p.duration == 0 || current == _PERPETUAL) {
            end = _PERPETUAL;
        } else {
            if (current > start) start = current;
            uint256 until = uint256(start) + p.duration;
            end = until >= _PERPETUAL ? _PERPETUAL - 1 : uint64(until);
        }
        _licensedUntil[p.image][p.licenseeIndex][p.kind] = end;
    }

    /// @dev Every tracked account moved exactly as the split says: the payer paid the price, the holder got its
    /// share, the treasury the rest, nobody else anything.
    function _checkBalances(Payment memory p) private {
        uint256[6] memory afterwards = _balances();
        int256[6] memory delta;
        delta[_slot(p.payer)] -= int256(p.holderAmount + p.platformAmount);
        delta[_slot(p.holder)] += int256(p.holderAmount);
        delta[_slot(ghostTreasury)] += int256(p.platformAmount);
        for (uint256 i = 0; i < 6; ++i) {
            if (int256(afterwards[i]) - int256(p.balancesBefore[i]) != delta[i]) {
                _violation(payoutMismatches++, string.concat(p.action, ": balances moved other than the split"));
                return;
            }
        }
    }

    /// @dev The `LicencePurchased` record (and for a settlement the `ClaimSettled` receipt) names the licence and
    /// payouts that sum to the price.
    function _checkReceipts(Payment memory p, Vm.Log[] memory logs, uint64 start, uint64 end) private {
        bool sawLicence;
        bool sawReceipt;
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].emitter != address(market)) continue;
            bytes32 topic = logs[i].topics[0];
            if (topic == ILicenseMarket.LicencePurchased.selector) {
                sawLicence = true;
                _checkLicenceRecord(p, logs[i], start, end);
            } else if (topic == ILicenseMarket.ClaimSettled.selector) {
                sawReceipt = true;
                _checkSettlementReceipt(p, logs[i]);
            }
        }
        if (!sawLicence || sawReceipt != (p.caseId != bytes32(0))) {
            _violation(modelMismatches++, string.concat(p.action, ": missing or extra receipt event"));
        }
    }

    /// @dev `LicencePurchased(licenceId, certificateId, licensee, kind, start, end, price, holder, platformFee)`:
    /// the payouts it names (`price - platformFee` to the holder, `platformFee` to the treasury) are the model's
    /// split, and the licence it records is the model's licence.
    function _checkLicenceRecord(Payment memory p, Vm.Log memory log, uint64 start, uint64 end) private {
        (uint8 kind, uint64 start_, uint64 end_, uint256 price, address holder, uint256 platformFee) =
            abi.decode(log.data, (uint8, uint64, uint64, uint256, address, uint256));
        if (
            price != p.price || holder != p.holder || platformFee != p.platformAmount
                || price - platformFee != p.holderAmount
        ) {
            _violation(payoutMismatches++, string.concat(p.action, ": LicencePurchased names other payouts"));
        }
        if (
            log.topics[1] != bytes32(_nextLicenceId(p)) || log.topics[2] != bytes32(p.tokenId)
                || log.topics[3] != bytes32(uint256(uint160(p.licensee))) || kind != p.kind || start_ != start
                || end_ != end
        ) {
            _violation(modelMismatches++, string.concat(p.action, ": LicencePurchased records another licence"));
        }
    }

    /// @dev `ClaimSettled(caseId, certificateId, payer, licenceId, holder, holderAmount, treasury, platformAmount)`:
    /// both payouts named, summing to the quoted amount, for the model's case and licence.
    function _checkSettlementReceipt(Payment memory p, Vm.Log memory log) private {
        (uint256 licenceId, address holder, uint256 holderAmount, address treasury_, uint256 platformAmount) =
            abi.decode(log.data, (uint256, address, uint256, address, uint256));
        if (
            holder != p.holder || holderAmount != p.holderAmount || treasury_ != ghostTreasury
                || platformAmount != p.platformAmount || holderAmount + platformAmount != p.price
        ) {
            _violation(payoutMismatches++, "settleClaim: ClaimSettled names other payouts");
        }
        if (
            log.topics[1] != p.caseId || log.topics[2] != bytes32(p.tokenId)
                || log.topics[3] != bytes32(uint256(uint160(p.payer))) || licenceId != _nextLicenceId(p)
        ) {
            _violation(modelMismatches++, "settleClaim: ClaimSettled names another case or licence");
        }
    }

    // =====================================================================================================
    // Model bookkeeping
    // =====================================================================================================

    /// @dev A certificate changed hands: every offer of the previous holding dies.
    function _changeHands(uint256 image, address to) private {
        _certificates[image].holder = to;
        for (uint8 kind = 0; kind <= KINDS; ++kind) {
            delete _offers[image][kind];
        }
    }

    /// @dev Compares a call's outcome with the prediction (0 = success, otherwise the expected error selector)
    /// and returns whether the call succeeded.
    function _outcome(string memory action, bytes4 expected, bool ok, bytes memory reason) private returns (bool) {
        bytes32 key = keccak256(bytes(action));
        if (ok) {
            succeeded[key] += 1;
            if (expected != bytes4(0)) {
                _violation(
                    modelMismatches++, string.concat(action, ": succeeded, model expected error ", _hex(expected))
                );
            }
            return true;
        }
        refused[key] += 1;
        bytes4 actual = reason.length >= 4 ? bytes4(reason) : bytes4(0);
        if (actual != expected || expected == bytes4(0)) {
            _violation(
                modelMismatches++,
                string.concat(action, ": reverted with ", _hex(actual), ", model expected ", _hex(expected))
            );
        }
        return false;
    }

    function _skip(string memory action) private {
        refused[keccak256(bytes(action))] += 1;
    }

    /// @dev Called as `_violation(counter++, message)`: the argument expression bumps the property's counter, this
    /// keeps the first message for the invariant that reports it.
    function _violation(uint256, string memory message) private {
        if (bytes(firstViolation).length == 0) firstViolation = message;
    }

    // =====================================================================================================
    // Seeds, keys and signatures
    // =====================================================================================================

    /// @dev Seven times in eight a registered image (the first one from the seed on), otherwise any image, so
    /// that actions mostly meet certificates that exist and sometimes ones that do not.
    function _pickImage(uint256 seed) private view returns (uint256) {
        if (!_oneIn(seed, "any image", 8)) {
            for (uint256 k = 0; k < IMAGES; ++k) {
                uint256 image = (seed % IMAGES + k) % IMAGES;
                if (_certificates[image].registered) return image;
            }
        }
        return (seed >> 8) % IMAGES;
    }

    /// @dev Seven times in eight a disputed certificate (the first one from the seed on), otherwise as `_pickImage`.
    function _pickDisputed(uint256 seed) private view returns (uint256) {
        if (!_oneIn(seed, "any dispute", 8)) {
            for (uint256 k = 0; k < IMAGES; ++k) {
                uint256 image = (seed % IMAGES + k) % IMAGES;
                if (_certificates[image].disputed) return image;
            }
        }
        return _pickImage(seed);
    }

    /// @dev Seven times in eight an offer the model holds live (the first from the seeds on), otherwise any image
    /// and kind, so that purchases mostly meet a live offer and sometimes a dead or missing one.
    function _pickOffer(uint256 imageSeed, uint256 kindSeed) private view returns (uint256, uint8) {
        if (!_oneIn(kindSeed, "any offer", 8)) {
            uint256 combinations = IMAGES * KINDS;
            for (uint256 k = 0; k < combinations; ++k) {
                uint256 c = (imageSeed % combinations + k) % combinations;
                uint8 kind = uint8(1 + c % KINDS);
                if (_offers[c / KINDS][kind].live) return (c / KINDS, kind);
            }
        }
        return (imageSeed % IMAGES, _kind(kindSeed >> 8));
    }

    /// @dev A branch choice from a seed, hashed with a label so that the fuzzer's favourite values (0, 1, small
    /// numbers, all ones) do not all fall into the same rare branch, and two choices from one seed are independent.
    function _mode(uint256 seed, string memory label, uint256 branches) private pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, label))) % branches;
    }

    function _oneIn(uint256 seed, string memory label, uint256 n) private pure returns (bool) {
        return _mode(seed, label, n) == 0;
    }

    function _kind(uint256 seed) private pure returns (uint8) {
        return uint8(1 + seed % KINDS);
    }

    /// @dev Mostly whole CPY amounts, one time in eight a few base units, so that rounding is exercised.
    function _price(uint256 seed) private pure returns (uint256) {
        if (_oneIn(seed, "small price", 8)) return 1 + (seed >> 8) % 1000;
        return 1e18 + (seed >> 8) % 2_000e18;
    }

    /// @dev A quarter perpetual, rarely a duration that overflows into the cap, otherwise an hour to a year.
    function _duration(uint256 seed) private pure returns (uint64) {
        uint256 mode = _mode(seed, "duration", 16);
        if (mode < 4) return 0;
        if (mode == 4) return type(uint64).max - uint64((seed >> 8) % 1000);
        return uint64(1 hours + (seed >> 8) % 365 days);
    }

    /// @dev The licence duration a buyer names: seven times in eight the offer's, otherwise the terms of an offer the
    /// holder has since republished at the same price with a shorter or a longer term, as perpetual instead of a
    /// term, or as a term instead of perpetual; the market must refuse those with `LicenseMarketOfferChanged`.
    function _expectedDuration(uint64 duration, uint256 seed) private pure returns (uint64) {
        if (!_oneIn(seed, "changed terms", 8)) return duration;
        if (duration == 0) return uint64(1 hours + (seed >> 8) % 365 days); // a term made perpetual
        uint256 mode = _mode(seed, "changed how", 3);
        if (mode == 0) return 0; // perpetual made a term
        uint64 delta = uint64(1 + (seed >> 8) % 30 days);
        // Mode 1: the buyer saw a longer term (the holder shortened it); mode 2: a shorter one (the holder lengthened
        // it). Whichever does not fit in a uint64 or would reach 0 turns into the other.
        bool longer = mode == 1;
        if (longer ? duration > type(uint64).max - delta : duration <= delta) longer = !longer;
        return longer ? duration + delta : duration - delta;
    }

    /// @dev The shares in use (70 % and 50 %), any share, or (when `invalid`) one above 100 %.
    function _holderShare(uint256 seed, bool invalid) private pure returns (uint16) {
        if (invalid) return uint16(_BPS + 1 + seed % 1000);
        uint256 mode = _mode(seed, "share", 4);
        if (mode == 0) return 7000;
        if (mode == 1) return 5000;
        return uint16((seed >> 8) % (_BPS + 1));
    }

    /// @dev Usually the holder (or any actor when unregistered), one time in eight any actor.
    function _caller(GhostCertificate memory certificate, uint256 seed) private view returns (address) {
        if (_oneIn(seed, "stranger", 8) || !certificate.registered) return _actors[(seed >> 8) % ACTORS];
        return certificate.holder;
    }

    function _otherActor(address account, uint256 seed) private view returns (address) {
        uint256 index = _slot(account);
        return _actors[(index + 1 + seed % (ACTORS - 1)) % ACTORS];
    }

    function _keyOf(address account) private view returns (uint256) {
        return _cast.actorKeys[_slot(account)];
    }

    /// @dev Index of a tracked CPY holder: the four actors, then the two treasuries.
    function _slot(address account) private view returns (uint256) {
        for (uint256 i = 0; i < ACTORS; ++i) {
            if (_actors[i] == account) return i;
        }
        if (account == _cast.treasuries[0]) return 4;
        if (account == _cast.treasuries[1]) return 5;
        revert("MarketHandler: untracked account");
    }

    function _balances() private view returns (uint256[6] memory b) {
        for (uint256 i = 0; i < ACTORS; ++i) {
            b[i] = cpy.balanceOf(_actors[i]);
        }
        b[4] = cpy.balanceOf(_cast.treasuries[0]);
        b[5] = cpy.balanceOf(_cast.treasuries[1]);
    }

    function _domain(string memory name, address verifyingContract) private view returns (bytes32) {
        return keccak256(
            abi.encode(_DOMAIN_TYPEHASH, keccak256(bytes(name)), keccak256("1"), block.chainid, verifyingContract)
        );
    }

    function _digest(bytes32 domain, bytes32 structHash) private pure returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    function _registrationHash(IImageCertificate.Registration memory g) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                _REGISTRATION_TYPEHASH,
                g.creator,
                g.contentHash,
                g.metadataDigest,
                g.fingerprint,
                g.royaltyBps,
                g.nonce,
                g.deadline
            )
        );
    }

    function _quoteHash(ILicenseMarket.SettlementQuote memory q) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                _QUOTE_TYPEHASH,
                q.caseId,
                q.certificateId,
                q.payer,
                q.amount,
                q.holderShareBps,
                q.kind,
                q.licenceDuration,
                q.deadline
            )
        );
    }

    function _permitDigest(address owner, uint256 value, uint256 nonce, uint256 deadline)
        private
        view
        returns (bytes32)
    {
        return _digest(
            _domain("Tracemark Copyright", address(cpy)),
            keccak256(abi.encode(_PERMIT_TYPEHASH, owner, address(market), value, nonce, deadline))
        );
    }

    /// @dev An EIP-2612 permit from `owner` to the market, signed with the owner's key.
    function _signPermit(address owner, uint256 value, uint256 nonce, uint256 deadline)
        private
        view
        returns (Permit memory permit)
    {
        permit.deadline = deadline;
        (permit.v, permit.r, permit.s) = vm.sign(_keyOf(owner), _permitDigest(owner, value, nonce, deadline));
    }

    function _signature(uint256 key, bytes32 digest) private pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function _hex(bytes4 value) private pure returns (string memory) {
        bytes memory digits = "0123456789abcdef";
        bytes memory out = new bytes(10);
        out[0] = "0";
        out[1] = "x";
        for (uint256 i = 0; i < 4; ++i) {
            out[2 + 2 * i] = digits[uint8(value[i]) >> 4];
            out[3 + 2 * i] = digits[uint8(value[i]) & 0x0f];
        }
        return string(out);
    }
}
