"""The cases service: the case workflow (`tracemark.cases`) joined to the store, the indexed chain and the mail.

```
sighting (store) --holder: legal | illegal | whitelist--> case (finding -> legal | whitelisted | illegal)
illegal --licence_check: licences of the certificate (indexer, confirmed block), the holder's whitelist, the
          operator's wallets, page and image licence data--> checked | licensed
checked --preview: compensation (matrix; duration from first/last seen; the holder's offers and sales on chain as
          evidence) and the fee split--> submit_claim (standing: the claimant holds the certificate at the confirmed
          block, not disputed) --caseworker: approve | reject--> approved
approved --scheduler (SQL ports, LetterDispatcher over SMTP, licence gate before every letter)--> offer -> ... court
```

Everything is read from the indexer's tables at the confirmed block (`ChainState.read_point()`), never from a node;
a chain not indexed yet refuses a claim. Ownership: every holder operation names the caller, and a case or sighting of
another holder is `CaseNotFoundError` (the API answers 404, so nobody learns that it exists).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tracemark.cases.clock import Clock
from tracemark.cases.compensation import (
    Breakdown,
    HolderPrices,
    Medium,
    Prominence,
    Usage,
    UseDescription,
    compute_compensation,
    load_matrix,
)
from tracemark.cases.deadlines import DeadlinePolicy
from tracemark.cases.image_rights import ImageRights, image_rights
from tracemark.cases.letters import Letter, LetterContext, LetterDispatcher, LetterKind, LetterTransport
from tracemark.cases.licence_check import (
    HolderFacts,
    LicenceCheck,
    OnChainLicence,
    PageLicenceData,
    UseFacts,
    check_licence,
    creative_commons_licence,
)
from tracemark.cases.scheduler import ConcurrencyError, DeadlineScheduler
from tracemark.cases.split import Handler, Split, SplitPolicy, split
from tracemark.cases.workflow import (
    ESCALATION,
    Actor,
    Case,
    CaseError,
    CaseState,
    EventKind,
    Role,
    Standing,
    TransitionError,
    open_case,
    record_answer,
    record_licence_check,
    resume,
    submit_claim,
    transition,
    write_message,
)
from tracemark.chain.eip712 import MARKET_DOMAIN, Domain, SettlementQuote, sign, typed_data
from tracemark.chain.keys import load_key
from tracemark.config import Settings
from tracemark.domain.application import Status as ApplicationStatus
from tracemark.files import write_atomically
from tracemark.storage.originals import OriginalCorruptError, OriginalMissingError, OriginalStore
from tracemark.store import Database
from tracemark.store import case_repository as cases_repo
from tracemark.store import sighting_repository as sightings_repo
from tracemark.store.case_repository import SqlActionLedger, SqlCaseRepository, SqlLetterStore
from tracemark.store.chain_repository import ChainState, ReadPoint
from tracemark.store.registration_models import RegistrationRecord
from tracemark.store.sighting_models import SightingEvidence, SightingRecord, SiteRecord

PERPETUAL = datetime(9999, 12, 31, tzinfo=UTC)
REVIEW_QUEUE = (CaseState.CLAIM_SUBMITTED, CaseState.IN_REVIEW)
#: Stages in which a post-licence is offered (at the offer price); later stages settle the damages.
OFFER_STAGES = (CaseState.OFFER, CaseState.REMINDER)
DAMAGES_STAGES = (CaseState.DAMAGES, CaseState.LAWYER_WARNING, CaseState.COURT)
LOCAL_CHAIN_ID = 31337
#: Key of anvil's test account 2, which scripts/deploy.py makes the settlement signer on a dev chain.
DEV_SETTLEMENT_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
#: The licence kind a settlement grants (the market's standard licence) and its term when no offer names one.
SETTLEMENT_KIND = 1
SETTLEMENT_LICENCE_S = 365 * 86_400
#: A portal token: 32 random bytes, URL-safe base64 without padding (43 characters).
PORTAL_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
#: Registered originals whose rights fields are kept in memory at once (the licence check reads them per case).
ORIGINAL_RIGHTS_KEPT = 256


class CaseNotFoundError(CaseError):
    """No such case or sighting, or one of another holder (the caller must not learn which)."""


class ChainNotIndexedError(CaseError):
    """The chain has not been indexed: no standing or licence can be checked."""


class SettlementUnavailableError(CaseError):
    """No settlement signer key or no market is configured: quotes cannot be issued."""


class NotPayableError(CaseError):
    """The case is in no stage that can be settled (not yet sent, or ended)."""


class DocumentNotFoundError(CaseError):
    """No such document of the case (or a name that is not `<sha256>.<pdf|jpg|png>`)."""


class DocumentDamagedError(CaseError):
    """A stored document whose bytes no longer match its name (sha256 or type): it is not served."""


def chain_case_id(case_id: str) -> bytes:
    """The bytes32 a case is known by on chain (`SettlementQuote.caseId`, `ClaimSettled.caseId`): a domain-separated
    SHA-256 of the case id, so the same case always maps to the same word and cases never collide."""
    return hashlib.sha256(b"tracemark/case/v1\x00" + case_id.encode()).digest()


@dataclass(frozen=True)
class SettlementOffer:
    """A signed settlement quote for the payer's wallet: the quote, its signature, the EIP-712 document the wallet
    shows and signs nothing of (the platform signed it), and the contract call that pays it."""

    case_id: str
    quote: SettlementQuote
    signature: bytes
    typed_data: dict[str, Any]
    market: str
    stage: CaseState
    split: Split

    def call(self) -> dict[str, Any]:
        """`LicenseMarket.settleClaim(quote, signature)` as plain data (the payer approves `amount` CPY first)."""
        return {"contract": self.market, "function": "settleClaim",
                "args": [typed_data_message(self.typed_data), "0x" + self.signature.hex()]}


def typed_data_message(document: dict[str, Any]) -> dict[str, Any]:
    """The message part of an EIP-712 document."""
    message: dict[str, Any] = document["message"]
    return message


@dataclass(frozen=True)
class Payout:
    """A confirmed settlement of a case on chain (`ClaimSettled`), as the indexer recorded it."""

    case_id: str
    tx_hash: str
    payer: str
    holder: str
    holder_amount: int
    treasury: str
    platform_amount: int

    @property
    def amount(self) -> int:
        """What the payer paid: the holder's share and the platform's together."""
        return self.holder_amount + self.platform_amount


#: States a case can be in once a payment may have reached it: the letter stages and the ends after them.
PAYOUT_STATES = (*ESCALATION, CaseState.SETTLED, CaseState.LICENCE_SHOWN, CaseState.WITHDRAWN, CaseState.REJECTED)


class HoldOutcome(StrEnum):
    """What a caseworker does with a case the recipient's answer put on hold."""

    RESUME = "resume"  # the deadlines run again, from now
    LICENCE_SHOWN = "licence_shown"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


_HOLD_ENDS = {HoldOutcome.LICENCE_SHOWN: CaseState.LICENCE_SHOWN, HoldOutcome.REJECTED: CaseState.REJECTED,
              HoldOutcome.WITHDRAWN: CaseState.WITHDRAWN}


class AnswerKind(StrEnum):
    """What the recipient says through the portal."""

    DISPUTE = "dispute"
    LICENCE = "licence"
    MESSAGE = "message"


MAX_STATEMENT = 5000
MAX_DOCUMENT = 5 * 1024 * 1024
#: Documents the recipient may upload (a licence it holds), recognised by their first bytes, never by their name.
DOCUMENT_TYPES = ((b"%PDF-", "application/pdf", "pdf"), (b"\xff\xd8\xff", "image/jpeg", "jpg"),
                  (b"\x89PNG\r\n\x1a\n", "image/png", "png"))
#: Where the recipients' documents are kept, under the data folder: `<case>/<sha256>.<ext>`.
DOCUMENTS_FOLDER = "case-documents"
#: The only names a kept document has; nothing else in a case's folder is ever served.
DOCUMENT_NAME = re.compile(r"([0-9a-f]{64})\.(pdf|jpg|png)")
_SAFE_CASE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class DocumentRefusedError(ValueError):
    """An uploaded document that is empty, too large, or not a PDF, JPEG or PNG."""


@dataclass(frozen=True)
class StoredDocument:
    """A document a recipient uploaded with an answer, as kept with the case."""

    name: str
    sha256: str
    media_type: str
    size: int
    answered_at: datetime | None  # the answer that brought it (None if the history does not name it)


def document_type(data: bytes) -> tuple[str, str]:
    """(media type, extension) of an uploaded document.

    Raises:
        DocumentRefusedError: empty, over 5 MiB, or not a PDF, JPEG or PNG.
    """
    if not data or len(data) > MAX_DOCUMENT:
        raise DocumentRefusedError(f"a document of 1 byte to {MAX_DOCUMENT} bytes is needed")
    for magic, media, ext in DOCUMENT_TYPES:
        if data.startswith(magic):
            return media, ext
    raise DocumentRefusedError("only PDF, JPEG and PNG documents are accepted")


@dataclass(frozen=True)
class EvidenceEntry:
    """A WARC record of the found copy: which file, which record, the digest of its body."""

    kind: str
    warc: str
    record_id: str
    sha256: str
    seen_at: datetime


class Verdict(StrEnum):
    """The holder's review of a finding."""

    LEGAL = "legal"
    ILLEGAL = "illegal"
    WHITELIST = "whitelist"


@dataclass(frozen=True)
class ClaimedUse:
    """How the image is used, as the holder describes it with the claim (the compensation's input)."""

    usage: Usage = Usage.COMMERCIAL
    medium: Medium = Medium.WEB
    display_width: int = 800
    prominence: Prominence = Prominence.STANDARD
    credit_given: bool = False
    aerial: bool = False
    models: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Plain data for storage."""
        return {"usage": self.usage.value, "medium": self.medium.value, "display_width": self.display_width,
                "prominence": self.prominence.value, "credit_given": self.credit_given, "aerial": self.aerial,
                "models": self.models}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClaimedUse:
        """The stored form back."""
        return cls(Usage(data["usage"]), Medium(data["medium"]), int(data["display_width"]),
                   Prominence(data["prominence"]), bool(data["credit_given"]), bool(data["aerial"]),
                   bool(data["models"]))


@dataclass(frozen=True)
class Preview:
    """What the holder sees before submitting: the compensation with its working and the split of it."""

    breakdown: Breakdown
    split: Split
    offer_price: int | None


@dataclass(frozen=True)
class SightingFacts:
    """A sighting with its site, as the case needs them."""

    sighting_id: int
    certificate_id: str
    host: str
    page_url: str
    image_url: str
    country: str | None
    first_seen: datetime
    last_seen: datetime
    operator: dict[str, Any]
    page_licence: PageLicenceData | None = None  # what the page gave for the image at the latest capture
    image_rights: ImageRights | None = None  # the rights fields of the image's bytes at the latest capture


def _strings_in(value: Any, depth: int = 0) -> list[str]:
    """Every string in a JSON value (the declared licence terms are free-form), at most 8 levels deep."""
    if isinstance(value, str):
        return [value.strip()]
    if depth >= 8:
        return []
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return [text for item in items for text in _strings_in(item, depth + 1)]


def _hex(certificate_id: int) -> str:
    return cases_repo.certificate_hex(certificate_id)


class CasesService:
    """The use cases of the case workflow.

    Args:
        database: The store (migrated).
        chain_id: The indexed chain the certificates, licences and offers are read from.
        clock: Time (a `ManualClock` in tests).
        policy: The stages' deadlines.
        split_policy: The fee split.
        transport: Delivers letters (`tracemark.mail.SmtpMailer`); None: the scheduler sends nothing.
        portal_url: The base of the case links in letters.
        settlement_key: Signs settlement quotes (None: no quotes).
        market_address: The LicenseMarket the quotes are for (None: no quotes).
        quote_ttl: How long a quote is valid (its deadline).
        matrix_version: The compensation matrix (None: the newest).
        documents_dir: Where the recipients' documents are kept (None: documents are neither kept nor listed).
        originals: The registered originals (their rights fields tell the licence check which statements are the
            holder's own; None: only the registration's declared terms and creator name are used).
    """

    def __init__(self, database: Database, chain_id: int, clock: Clock, *, policy: DeadlinePolicy | None = None,
                 split_policy: SplitPolicy | None = None, transport: LetterTransport | None = None,
                 portal_url: str = "http://127.0.0.1:8000", matrix_version: str | None = None,
                 message_domain: str = "tracemark.invalid", settlement_key: str | None = None,
                 market_address: str | None = None, quote_ttl: timedelta = timedelta(minutes=30),
                 documents_dir: Path | None = None, originals: OriginalStore | None = None) -> None:
        self.database, self.chain_id, self.clock = database, chain_id, clock
        self.documents_dir, self.originals = documents_dir, originals
        self._original_rights: dict[str, ImageRights] = {}
        self.settlement_key, self.market_address, self.quote_ttl = settlement_key, market_address, quote_ttl
        self.policy = policy or DeadlinePolicy()
        self.split_policy = split_policy or SplitPolicy()
        self.transport, self.portal_url = transport, portal_url.rstrip("/")
        self.matrix = load_matrix(matrix_version or None)
        self.message_domain = message_domain
        self.cases = SqlCaseRepository(database)
        self.ledger = SqlActionLedger(database)
        self.letters = SqlLetterStore(database)

    @classmethod
    def from_settings(cls, settings: Settings, database: Database, chain_id: int, clock: Clock,
                      transport: LetterTransport | None = None, market_address: str | None = None) -> CasesService:
        """The service as the settings configure it; with `market_address` (the deployment's LicenseMarket) it signs
        settlement quotes with the settlement key (the dev key on the local chain only).

        Raises:
            KeyUnavailableError: a settlement keystore is configured but cannot be read.
        """
        key = ""
        if market_address is not None:
            key = load_key(settings.settlement_key.get_secret_value(), settings.settlement_keystore,
                           settings.keystore_password_file) or (
                DEV_SETTLEMENT_KEY if chain_id == LOCAL_CHAIN_ID else "")
        policy = DeadlinePolicy.from_days(settings.case_reminder_days, settings.case_damages_days,
                                          settings.case_lawyer_days, settings.case_court_days)
        split_policy = SplitPolicy(settings.case_holder_share_bps, settings.case_external_abroad_holder_share_bps,
                                   settings.case_home_country)
        return cls(database, chain_id, clock, policy=policy, split_policy=split_policy, transport=transport,
                   portal_url=settings.public_url, matrix_version=settings.compensation_matrix_version or None,
                   settlement_key=key or None, market_address=market_address,
                   quote_ttl=timedelta(seconds=settings.settlement_quote_ttl_s),
                   documents_dir=settings.data_dir / DOCUMENTS_FOLDER,
                   originals=OriginalStore(settings.data_dir / "originals"))

    # --- reads of the store and the indexed chain -------------------------------------------------------------

    def _read_point(self, chain: ChainState) -> ReadPoint:
        point = chain.read_point()
        if point is None:
            raise ChainNotIndexedError(f"chain {self.chain_id} has not been indexed yet")
        return point

    def _sighting(self, sighting_id: int) -> SightingFacts:
        with self.database.read() as session:
            row = session.get(SightingRecord, sighting_id)
            site = session.get(SiteRecord, row.site_id) if row is not None else None
            if row is None or site is None or row.certificate_id is None:
                raise CaseNotFoundError(f"no sighting {sighting_id}")
            operator = json.loads(site.operator) if site.operator else {}
            page_licence, image_rights = sightings_repo.licence_data_of(row)
            return SightingFacts(row.id, row.certificate_id, site.host, row.page_url, row.image_url,
                                 site.country_code, row.first_seen, row.last_seen,
                                 operator if isinstance(operator, dict) else {}, page_licence, image_rights)

    def _holder_of(self, certificate_hex: str) -> tuple[str, bool]:
        """(holder, disputed) of a certificate at the confirmed block."""
        with self.database.read() as session:
            chain = ChainState(session, self.chain_id)
            point = self._read_point(chain)
            cert = chain.certificate(certificate_hex, point)
            if cert is None:
                raise CaseNotFoundError(f"no certificate {certificate_hex}")
            return cert.holder, cert.disputed

    def _own_case(self, case_id: str, holder: str) -> Case:
        case = self.cases.find(case_id)
        if case is None or case.holder.lower() != holder.lower():
            raise CaseNotFoundError(f"no case {case_id}")
        return case

    def _facts(self, case: Case) -> SightingFacts:
        sighting_id = cases_repo.sighting_of(self.database, case.case_id)
        if sighting_id is None:
            raise CaseNotFoundError(f"case {case.case_id} has no sighting")
        return self._sighting(sighting_id)

    # --- findings ---------------------------------------------------------------------------------------------

    def finding(self, sighting_id: int, holder: str) -> Case:
        """The case of a sighting of one of the holder's certificates (opened as a finding on first use).

        Raises:
            CaseNotFoundError: no such sighting, or its certificate is not the holder's at the confirmed block.
        """
        facts = self._sighting(sighting_id)
        current, _disputed = self._holder_of(facts.certificate_id)
        if current.lower() != holder.lower():
            raise CaseNotFoundError(f"no sighting {sighting_id}")
        existing = self.cases.for_sighting(sighting_id, holder)
        if existing is not None:
            return existing
        case = open_case(case_id=uuid.uuid4().hex, certificate_id=int(facts.certificate_id, 16),
                         holder=holder.lower(), host=facts.host, page_url=facts.page_url,
                         image_url=facts.image_url, country=facts.country, at=self.clock.now())
        try:
            self.cases.save(case, 0, sighting_id=sighting_id)
        except ValueError:  # a concurrent request opened it first (one case per sighting and holder)
            raced = self.cases.for_sighting(sighting_id, holder)
            if raced is None:
                raise
            return raced
        return case

    def review_finding(self, sighting_id: int, holder: str, verdict: Verdict, reason: str) -> Case:
        """The holder marks a finding legal, illegal, or whitelists its domain (which ends it as whitelisted).

        Raises:
            CaseNotFoundError: not the holder's sighting.
            TransitionError: the finding was reviewed already and cannot move so.
        """
        case = self.finding(sighting_id, holder)
        actor = Actor(Role.HOLDER, holder.lower())
        now = self.clock.now()
        target = {Verdict.LEGAL: CaseState.LEGAL, Verdict.ILLEGAL: CaseState.ILLEGAL,
                  Verdict.WHITELIST: CaseState.WHITELISTED}[verdict]
        moved = transition(case, target, actor=actor, at=now, reason=reason)
        if verdict is Verdict.WHITELIST:
            cases_repo.add_to_whitelist(self.database, holder, case.host, reason, now)
        self.cases.save(moved, case.version)
        return moved

    # --- the licence check --------------------------------------------------------------------------------------

    def _on_chain_licences(self, chain: ChainState, point: ReadPoint, certificate_hex: str) -> list[OnChainLicence]:
        out: list[OnChainLicence] = []
        after: int | None = None
        while True:
            page = chain.licences(point, certificate=certificate_hex, after=after, limit=200)
            for lic in page:
                out.append(OnChainLicence(
                    certificate_id=int(lic.certificate_id, 16), licensee=lic.licensee, kind=str(lic.kind),
                    start=datetime.fromtimestamp(lic.starts_at, UTC),
                    end=datetime.fromtimestamp(lic.ends_at, UTC) if lic.ends_at is not None else PERPETUAL))
            if len(page) < 200:
                return out
            after = page[-1].pos

    def run_licence_check(self, case: Case, *, page: PageLicenceData | None = None,
                          image: ImageRights | None = None, usage: str = "commercial") -> LicenceCheck:
        """The licence check of a case's use now: standing and licences from the indexer at the confirmed block,
        the holder's whitelist, the operator's wallets (`wallets` in its imprint data), page and image data (as the
        crawler last captured them with the sighting, unless `page` / `image` are given)."""
        facts = self._facts(case)
        with self.database.read() as session:
            chain = ChainState(session, self.chain_id)
            point = self._read_point(chain)
            cert = chain.certificate(facts.certificate_id, point)
            disputed = cert is None or cert.disputed
            licences = self._on_chain_licences(chain, point, facts.certificate_id)
        wallets = facts.operator.get("wallets") or []
        holder = self._holder_facts(case, facts.certificate_id)
        use = UseFacts(certificate_id=case.certificate_id, host=case.host, page_url=case.page_url,
                       first_seen=facts.first_seen, last_seen=facts.last_seen, country=case.country, usage=usage,
                       operator_addresses=tuple(str(w).lower() for w in wallets if isinstance(w, str)))
        page = page if page is not None else facts.page_licence
        image = image if image is not None else facts.image_rights
        return check_licence(disputed=disputed, holder=holder, use=use, licences=licences,
                             page=page or PageLicenceData(), image=image, now=self.clock.now())

    def _holder_facts(self, case: Case, certificate_hex: str) -> HolderFacts:
        """What the holder has said about the image, from its registration: the creator's name (a credit naming it
        is the attribution the holder asks for), the URLs its declared licence terms and its original's rights
        fields (XMP, IPTC) name, and the holder's whitelist. A Creative Commons licence among those URLs is one the
        holder granted; any other URL is the holder's own statement, so a copy that kept it has copied it and holds
        no licence by it."""
        with self.database.read() as session:
            record = session.scalars(select(RegistrationRecord).where(
                RegistrationRecord.chain_id == self.chain_id, RegistrationRecord.certificate_id == certificate_hex,
                RegistrationRecord.status == ApplicationStatus.MINTED.value,
            ).order_by(RegistrationRecord.updated_at.desc())).first()
            registered = (record.creator_name, record.sha256, record.declared) if record is not None else None
        urls: list[str] = []
        credit_names: tuple[str, ...] = ()
        if registered is not None:
            creator, sha256, declared = registered
            credit_names = (creator,) if creator.strip() else ()
            terms = json.loads(declared).get("licence_terms") if declared else None
            urls += [u for u in _strings_in(terms) if u.startswith(("http://", "https://"))]
            rights = self._rights_of_original(sha256)
            urls += [*rights.licence_urls, *rights.web_statements, *rights.licensor_urls]
        granted = tuple(dict.fromkeys(u for u in urls if creative_commons_licence(u)))
        own = tuple(dict.fromkeys(u for u in urls if not creative_commons_licence(u)))
        return HolderFacts(holder=case.holder, credit_names=credit_names, open_licences=granted, own_statements=own,
                           whitelist=tuple(cases_repo.whitelist_of(self.database, case.holder)))

    def _rights_of_original(self, sha256: str) -> ImageRights:
        """The rights fields of a registered original (read once per original; empty when it is not kept here)."""
        if sha256 not in self._original_rights:
            try:
                data = self.originals.get(sha256) if self.originals is not None else b""
            except (OriginalMissingError, OriginalCorruptError):
                data = b""
            if len(self._original_rights) >= ORIGINAL_RIGHTS_KEPT:
                self._original_rights.clear()
            self._original_rights[sha256] = image_rights(data) if data else ImageRights()
        return self._original_rights[sha256]

    def check_licence(self, case_id: str, holder: str, *, page: PageLicenceData | None = None,
                      image: ImageRights | None = None) -> Case:
        """Runs and records the licence check of one of the holder's illegal findings (or re-checks a checked one).

        Raises:
            CaseNotFoundError: not the holder's case.
            TransitionError: the case is not illegal or checked.
        """
        case = self._own_case(case_id, holder)
        if case.state not in (CaseState.ILLEGAL, CaseState.CHECKED):
            raise TransitionError(case_id, case.state, CaseState.CHECKED, "the licence check runs on illegal findings")
        check = self.run_licence_check(case, page=page, image=image)
        checked = record_licence_check(case, check, actor=Actor(Role.SYSTEM, "licence-check"), at=self.clock.now())
        self.cases.save(checked, case.version)
        return checked

    # --- compensation, split and claim --------------------------------------------------------------------------

    def holder_prices(self, case: Case) -> tuple[HolderPrices, int | None]:
        """The holder's live offers (list price) and licence sales of the certificate on chain, as evidence of the
        fee; with the lowest live offer price (the post-licence price)."""
        cert_hex = _hex(case.certificate_id)
        with self.database.read() as session:
            chain = ChainState(session, self.chain_id)
            point = self._read_point(chain)
            cert = chain.certificate(cert_hex, point)
            offers = [(int(o.offer.price, 16), o.offer.duration) for o in chain.offers(cert, point) if o.live
                      ] if cert is not None else []
            sales = [int(lic.price, 16) for lic in self._licence_rows(chain, point, cert_hex) if lic.case_id is None]
        if not offers:
            return HolderPrices(comparable_sales=tuple(sales)), None
        price, duration = min(offers)
        days = max(1, duration // 86_400) if duration else 365
        return HolderPrices(list_price=price, list_days=days, comparable_sales=tuple(sales)), price

    @staticmethod
    def _licence_rows(chain: ChainState, point: ReadPoint, cert_hex: str) -> Sequence[Any]:
        return chain.licences(point, certificate=cert_hex, limit=200)

    def preview(self, case_id: str, holder: str, use: ClaimedUse) -> Preview:
        """The compensation with its working and the fee split, as shown to the holder before it submits."""
        case = self._own_case(case_id, holder)
        return self._preview(case, use)

    def _preview(self, case: Case, use: ClaimedUse) -> Preview:
        facts = self._facts(case)
        prices, offer_price = self.holder_prices(case)
        description = UseDescription(usage=use.usage, medium=use.medium, display_width=use.display_width,
                                     prominence=use.prominence, first_seen=facts.first_seen,
                                     last_seen=facts.last_seen, country=case.country,
                                     credit_given=use.credit_given, aerial=use.aerial, models=use.models)
        breakdown = compute_compensation(description, prices, self.matrix)
        return Preview(breakdown, split(breakdown.total, self.split_policy.holder_share_bps()), offer_price)

    def submit_claim(self, case_id: str, holder: str, use: ClaimedUse, reason: str = "claim submitted") -> Case:
        """The holder submits a claim: standing at the confirmed block (holds it, not disputed), a clear and recent
        licence check; the use is kept for the compensation.

        Raises:
            CaseNotFoundError: not the holder's case.
            ClaimRefusedError: disputed, not the holder on chain, no clear recent check.
            TransitionError: the case is not checked.
        """
        case = self._own_case(case_id, holder)
        current, disputed = self._holder_of(_hex(case.certificate_id))
        claimed = submit_claim(case, actor=Actor(Role.HOLDER, holder.lower()), at=self.clock.now(),
                               standing=Standing(current, disputed), reason=reason)
        self._preview(case, use)  # the use must price (raises before anything is stored)
        cases_repo.set_claimed_use(self.database, case_id, use.as_dict())
        self.cases.save(claimed, case.version)
        return claimed

    # --- review ---------------------------------------------------------------------------------------------------

    def review_queue(self) -> list[Case]:
        """Claims waiting for a caseworker, oldest first."""
        return self.cases.in_states(REVIEW_QUEUE)

    def decide(self, case_id: str, caseworker: str, approve: bool, reason: str) -> Case:
        """A caseworker approves or rejects a submitted claim (taking it into review first).

        Raises:
            CaseNotFoundError: no such case.
            TransitionError: not awaiting review, or the caseworker is the case's holder.
        """
        case = self.cases.find(case_id)
        if case is None:
            raise CaseNotFoundError(f"no case {case_id}")
        actor = Actor(Role.CASEWORKER, caseworker.lower())
        now = self.clock.now()
        moved = case
        if moved.state is CaseState.CLAIM_SUBMITTED:
            moved = transition(moved, CaseState.IN_REVIEW, actor=actor, at=now, reason="taken into review")
        moved = transition(moved, CaseState.APPROVED if approve else CaseState.REJECTED, actor=actor, at=now,
                           reason=reason)
        self.cases.save(moved, case.version)
        return moved

    # --- the parties' views: withdrawal, answers on hold, messages, documents, payouts ------------------------------

    def visible_case(self, case_id: str, caller: str, *, caseworker: bool) -> Case:
        """A case as the caller may see it: any case for a caseworker, else only the caller's own.

        Raises:
            CaseNotFoundError: no such case, or (for a holder) one of another holder.
        """
        return self.any_case(case_id) if caseworker else self._own_case(case_id, caller)

    def _refuse_if_paid(self, case: Case, target: CaseState) -> None:
        if case.state in ESCALATION and self.payout(case.case_id) is not None:
            raise TransitionError(case.case_id, case.state, target,
                                  "the case has been settled on chain; it closes as settled")

    def withdraw(self, case_id: str, holder: str, reason: str) -> Case:
        """The holder withdraws one of its open cases (from the checked finding on, as the workflow allows); the
        scheduler never acts on it again.

        Raises:
            CaseNotFoundError: not the holder's case.
            TransitionError: the workflow allows no withdrawal from the case's state (a finding not yet checked, or
                an ended case), or the case has been paid on chain already.
            ValueError: an empty reason.
        """
        case = self._own_case(case_id, holder)
        moved = transition(case, CaseState.WITHDRAWN, actor=Actor(Role.HOLDER, holder.lower()), at=self.clock.now(),
                           reason=reason)
        self._refuse_if_paid(case, CaseState.WITHDRAWN)
        self.cases.save(moved, case.version)
        return moved

    def resolve_hold(self, case_id: str, caseworker: str, outcome: HoldOutcome, reason: str) -> Case:
        """A caseworker's answer to a case the recipient's answer put on hold: resume it (the stage's deadline runs
        again from now) or end it as licence shown, rejected or withdrawn.

        Raises:
            CaseNotFoundError: no such case.
            TransitionError: the case is not on hold, the workflow does not allow the end from its state, the
                caseworker is the case's holder, or the case has been paid on chain already.
            ValueError: an empty reason.
        """
        case = self.any_case(case_id)
        actor = Actor(Role.CASEWORKER, caseworker.lower())
        now = self.clock.now()
        if outcome is HoldOutcome.RESUME:
            moved = resume(case, actor=actor, at=now, reason=reason)
        else:
            target = _HOLD_ENDS[outcome]
            if not case.on_hold:
                raise TransitionError(case_id, case.state, target, "the case is not on hold: no answer waits")
            moved = transition(case, target, actor=actor, at=now, reason=reason)
            self._refuse_if_paid(case, target)
        self.cases.save(moved, case.version)
        return moved

    def post_message(self, case_id: str, author: str, text: str, *, caseworker: bool) -> Case:
        """A caseworker's message on any case (both parties see it) or a holder's note to the caseworker on its own
        case (the recipient does not see it), kept in the history; neither changes the state or a deadline.

        Raises:
            CaseNotFoundError: no such case, or (for a holder) one of another holder.
            TransitionError: the case has ended or has no claim yet, or a caseworker writes on a case of its own.
            ValueError: an empty text.
        """
        case = self.visible_case(case_id, author, caseworker=caseworker)
        actor = Actor(Role.CASEWORKER if caseworker else Role.HOLDER, author.lower())
        moved = write_message(case, actor=actor, at=self.clock.now(), text=text)
        self.cases.save(moved, case.version)
        return moved

    def _documents_folder(self, case: Case, documents_dir: Path | None = None) -> Path | None:
        root = documents_dir or self.documents_dir
        if root is None or _SAFE_CASE_ID.fullmatch(case.case_id) is None:  # a case id is never a path of its own
            return None
        return root / case.case_id

    @staticmethod
    def _answered_at(case: Case, digest: str) -> datetime | None:
        mark = f"sha256 {digest}]"
        return next((e.at for e in case.events if e.kind is EventKind.ANSWER and e.reason.endswith(mark)), None)

    def documents(self, case: Case) -> list[StoredDocument]:
        """The documents the recipient uploaded with its answers to `case` (only `<sha256>.<pdf|jpg|png>` files of
        the case's own folder, no links), in the order of the answers."""
        folder = self._documents_folder(case)
        if folder is None or folder.is_symlink() or not folder.is_dir():
            return []
        out: list[StoredDocument] = []
        for entry in folder.iterdir():
            named = DOCUMENT_NAME.fullmatch(entry.name)
            if named is None or entry.is_symlink() or not entry.is_file():
                continue
            media = next(m for _magic, m, ext in DOCUMENT_TYPES if ext == named.group(2))
            out.append(StoredDocument(entry.name, named.group(1), media, entry.stat().st_size,
                                      self._answered_at(case, named.group(1))))
        far = datetime.max.replace(tzinfo=UTC)
        return sorted(out, key=lambda d: (d.answered_at or far, d.name))

    def document(self, case: Case, name: str) -> tuple[StoredDocument, bytes]:
        """One document of `case` with its bytes, checked against its name: the sha256 and the type its first bytes
        show must match.

        Raises:
            DocumentNotFoundError: the name is not `<sha256>.<pdf|jpg|png>`, or the case has no such document.
            DocumentDamagedError: the stored bytes do not match the name.
        """
        named = DOCUMENT_NAME.fullmatch(name)
        folder = self._documents_folder(case)
        if named is None or folder is None:
            raise DocumentNotFoundError(f"case {case.case_id} has no document {name!r}")
        path = folder / name
        if folder.is_symlink() or path.is_symlink() or not path.is_file():
            raise DocumentNotFoundError(f"case {case.case_id} has no document {name!r}")
        data = path.read_bytes()
        try:
            media, ext = document_type(data)
        except DocumentRefusedError:
            media, ext = "", ""
        if hashlib.sha256(data).hexdigest() != named.group(1) or ext != named.group(2):
            raise DocumentDamagedError(f"document {name} of case {case.case_id} does not match its name")
        return StoredDocument(name, named.group(1), media, len(data), self._answered_at(case, named.group(1))), data

    def _payouts(self, case_ids: Sequence[str]) -> list[Payout]:
        keys = {"0x" + chain_case_id(i).hex(): i for i in case_ids}
        rows = cases_repo.settlements_of(self.database, self.chain_id, list(keys))
        return [Payout(keys[r.case_key], r.tx_hash, r.payer, r.holder, r.holder_amount, r.treasury, r.platform_amount)
                for r in rows]

    def payouts_of(self, holder: str) -> list[Payout]:
        """The confirmed on-chain settlements of the holder's cases (indexer, confirmed block), newest first."""
        return self._payouts(self.cases.ids_in_states(PAYOUT_STATES, holder=holder))

    def all_payouts(self) -> list[Payout]:
        """The confirmed on-chain settlements of every case (caseworkers), newest first."""
        return self._payouts(self.cases.ids_in_states(PAYOUT_STATES))

    # --- reads for the parties --------------------------------------------------------------------------------------

    def case_of(self, case_id: str, holder: str) -> Case:
        """One of the holder's cases."""
        return self._own_case(case_id, holder)

    def any_case(self, case_id: str) -> Case:
        """Any case (caseworkers)."""
        case = self.cases.find(case_id)
        if case is None:
            raise CaseNotFoundError(f"no case {case_id}")
        return case

    def cases_of(self, holder: str, *, limit: int = 50, offset: int = 0) -> list[Case]:
        """The holder's cases, newest change first."""
        return self.cases.for_holder(holder, limit=limit, offset=offset)

    def letters_of(self, case_id: str) -> list[Letter]:
        """The letters kept with a case."""
        return self.letters.for_case(case_id)

    # --- letters and the scheduler ---------------------------------------------------------------------------------

    def letter_context(self, case: Case, kind: LetterKind) -> LetterContext:
        """What the letter of `kind` says beyond the case: recipient (the operator's e-mail), link, amounts."""
        facts = self._facts(case)
        email = facts.operator.get("email")
        stored = cases_repo.claimed_use(self.database, case.case_id)
        use = ClaimedUse.from_dict(stored) if stored else ClaimedUse()
        preview = self._preview(case, use)
        damages = kind not in (LetterKind.OFFER, LetterKind.REMINDER)
        offer_price = preview.offer_price if preview.offer_price is not None else preview.breakdown.total
        return LetterContext(
            recipient_email=str(email or ""), case_link=self.issue_portal_link(case.case_id),
            holder_name=case.holder, recipient_name=facts.operator.get("name"),
            offer_price=None if damages else offer_price, breakdown=preview.breakdown if damages else None,
            first_seen=facts.first_seen)

    def gate(self, case: Case, now: datetime) -> LicenceCheck:
        """The licence check the scheduler runs before every letter."""
        return self.run_licence_check(case)

    def scheduler(self, worker: str = "scheduler", lease: timedelta = timedelta(minutes=5)) -> DeadlineScheduler:
        """The deadline scheduler over the SQL ports; letters go through the transport (none without one)."""
        effect = None
        if self.transport is not None:
            effect = LetterDispatcher(self.letters, self.transport, self.clock, self.policy, self.letter_context,
                                      message_domain=self.message_domain)
        return DeadlineScheduler(self.cases, self.ledger, self.clock, self.policy, effect=effect, gate=self.gate,
                                 worker=worker, lease=lease)

    # --- settlement ---------------------------------------------------------------------------------------------------

    def settlement_amount(self, case: Case) -> tuple[int, int]:
        """(amount, licence duration in seconds) a case settles for now: the post-licence offer price while an offer
        stage is open (the compensation total when the holder has no live offer), the damages from the damages stage on.

        Raises:
            NotPayableError: the case is in no payable stage.
        """
        if case.state not in (*OFFER_STAGES, *DAMAGES_STAGES):
            raise NotPayableError(f"case {case.case_id} is {case.state.value}: nothing to settle")
        return self._amount(case, self._claimed_preview(case)), SETTLEMENT_LICENCE_S

    def _claimed_preview(self, case: Case) -> Preview:
        """The compensation of the use the holder claimed (as stored with the claim)."""
        stored = cases_repo.claimed_use(self.database, case.case_id)
        return self._preview(case, ClaimedUse.from_dict(stored) if stored else ClaimedUse())

    @staticmethod
    def _amount(case: Case, preview: Preview) -> int:
        """The post-licence price in an offer stage (the compensation when the holder offers none), else the
        damages."""
        if case.state in OFFER_STAGES and preview.offer_price is not None:
            return preview.offer_price
        return preview.breakdown.total

    def settlement_terms(self, case: Case) -> tuple[int, Breakdown] | None:
        """(amount, compensation working) the case can be settled for now, or None (not payable, or settled)."""
        if case.state not in (*OFFER_STAGES, *DAMAGES_STAGES) or self.payout(case.case_id) is not None:
            return None
        preview = self._claimed_preview(case)
        return self._amount(case, preview), preview.breakdown

    def quote(self, case_id: str, payer: str, *, handler: Handler = Handler.PLATFORM,
              handler_country: str | None = None) -> SettlementOffer:
        """A settlement quote for a payable case, signed by the settlement signer, for `payer`'s wallet.

        The quote binds the case (its bytes32 id), the certificate, the payer, the amount, the holder's share (70 %,
        or 50 % with a lawyer or collection agency abroad), the licence granted and a short deadline; the contract
        refuses it changed in any field, after its deadline, from another sender, or once the case is settled.

        Raises:
            CaseNotFoundError: no such case.
            NotPayableError: the case is in no payable stage, or has been settled on chain already.
            SettlementUnavailableError: no signer key or market configured.
            ValueError: the payer is not an address.
        """
        if not self.settlement_key or not self.market_address:
            raise SettlementUnavailableError("no settlement signer or market is configured")
        case = self.any_case(case_id)
        if not (isinstance(payer, str) and len(payer) == 42 and payer.startswith("0x")):
            raise ValueError(f"not an address: {payer!r}")
        int(payer, 16)
        if self.payout(case_id) is not None:
            raise NotPayableError(f"case {case_id} has been settled on chain")
        amount, duration = self.settlement_amount(case)
        if amount <= 0:
            raise NotPayableError(f"case {case_id} has nothing to pay")
        share = self.split_policy.holder_share_bps(handler, handler_country)
        deadline = int((self.clock.now() + self.quote_ttl).timestamp())
        message = SettlementQuote(caseId=chain_case_id(case_id), certificateId=case.certificate_id, payer=payer,
                                  amount=amount, holderShareBps=share, kind=SETTLEMENT_KIND,
                                  licenceDuration=duration, deadline=deadline)
        domain = Domain(*MARKET_DOMAIN, chain_id=self.chain_id, verifying_contract=self.market_address)
        signature = sign(message, domain, self.settlement_key).signature
        return SettlementOffer(case_id, message, signature, typed_data(message, domain), self.market_address,
                               case.state, split(amount, share))

    def payout(self, case_id: str) -> Payout | None:
        """The confirmed on-chain settlement of a case (indexer, confirmed block), or None."""
        key = "0x" + chain_case_id(case_id).hex()
        with self.database.read() as session:
            chain = ChainState(session, self.chain_id)
            point = chain.read_point()
            if point is None:
                return None
            rows = chain.settlements(point, case=key, limit=1)
            if not rows:
                return None
            row = rows[0]
            return Payout(case_id, row.tx_hash, row.payer, row.holder, int(row.holder_amount, 16), row.treasury,
                          int(row.platform_amount, 16))

    def close_settled(self) -> list[str]:
        """Closes as settled every open case in a payable stage whose `ClaimSettled` the indexer has confirmed,
        recording the payouts in the transition's reason (run by `tracemark cases scheduler`).

        Returns:
            The ids of the cases closed by this call (a case closed already, or by a concurrent run, is not listed).
        """
        closed: list[str] = []
        for case in self.cases.in_states(ESCALATION):
            paid = self.payout(case.case_id)
            if paid is None:
                continue
            reason = (f"settled on chain in {paid.tx_hash} by {paid.payer}: holder {paid.holder} received "
                      f"{paid.holder_amount}, treasury {paid.treasury} received {paid.platform_amount} "
                      "(smallest CPY units)")
            moved = transition(case, CaseState.SETTLED, actor=Actor(Role.SYSTEM, "indexer"), at=self.clock.now(),
                               reason=reason)
            try:
                self.cases.save(moved, case.version)
            except ConcurrencyError:
                continue
            closed.append(case.case_id)
        return closed

    # --- the clearing portal's case links -----------------------------------------------------------------------------

    @staticmethod
    def _token_hash(token: str) -> str:
        return hashlib.sha256(b"tracemark/portal/v1\x00" + token.encode()).hexdigest()

    def issue_portal_link(self, case_id: str) -> str:
        """A new unguessable link to a case in the clearing portal (32 random bytes); only its hash is stored, so the
        link exists only where it was sent. A case may have several links (one per letter), all opening it.

        Raises:
            CaseNotFoundError: no such case.
        """
        self.any_case(case_id)
        token = secrets.token_urlsafe(32)
        cases_repo.add_portal_link(self.database, case_id, self._token_hash(token), self.clock.now())
        return f"{self.portal_url}/c/{token}"

    def case_for_portal_token(self, token: str) -> Case:
        """The case a portal token opens. Every refusal is the same `CaseNotFoundError`, whether the token is
        malformed, guessed, or of a case that no longer exists; a well-formed token costs the same lookup either way.

        Raises:
            CaseNotFoundError: the token opens no case.
        """
        well_formed = PORTAL_TOKEN.fullmatch(token) is not None
        digest = self._token_hash(token if well_formed else "-" * 43)
        case_id = cases_repo.case_of_portal_link(self.database, digest)
        case = self.cases.find(case_id) if case_id is not None and well_formed else None
        if case is None or not hmac.compare_digest(digest, self._token_hash(token)):
            raise CaseNotFoundError("no such case")
        return case

    def answer(self, case: Case, kind: AnswerKind, statement: str, document: bytes | None = None,
               documents_dir: Path | None = None) -> Case:
        """The recipient's answer through the portal (a dispute, a licence it says it holds, a message): recorded in
        the history for both parties; the case waits for a caseworker (its deadlines hold).

        Raises:
            ValueError: an empty statement or one over 5000 characters.
            DocumentRefusedError: the document is empty, over 5 MiB, or not a PDF, JPEG or PNG (kept in
                `documents_dir/<case>/<sha256>.<ext>` for the caseworker otherwise; `documents_dir` defaults to the
                service's).
            TransitionError: no letter has been sent yet, or the case has ended.
        """
        text = statement.strip()
        if not 0 < len(text) <= MAX_STATEMENT:
            raise ValueError(f"a statement of 1 to {MAX_STATEMENT} characters is needed")
        reason = f"{kind.value}: {text}"
        target: Path | None = None
        if document:
            media, ext = document_type(document)
            folder = self._documents_folder(case, documents_dir)
            if folder is None:
                raise DocumentRefusedError("documents cannot be kept here")
            digest = hashlib.sha256(document).hexdigest()
            target = folder / f"{digest}.{ext}"
            reason += f" [document {media}, {len(document)} bytes, sha256 {digest}]"
        answered = record_answer(case, actor=Actor(Role.RECIPIENT, "recipient"), at=self.clock.now(),
                                 reason=reason)  # refused before anything is written
        written = target is not None and not target.exists()
        if target is not None and document:
            write_atomically(target, document)  # complete or absent, never half a document
        try:
            self.cases.save(answered, case.version)
        except BaseException:
            if written and target is not None:  # no answer names it: not kept (one kept before stays)
                target.unlink(missing_ok=True)
            raise
        return answered

    def match_and_evidence(self, case: Case) -> tuple[dict[str, Any], list[EvidenceEntry]]:
        """The sighting's match report (score, edits) and its WARC evidence records, for the portal."""
        sighting_id = cases_repo.sighting_of(self.database, case.case_id)
        if sighting_id is None:
            return {}, []
        with self.database.read() as session:
            row = session.get(SightingRecord, sighting_id)
            report = json.loads(row.match_report) if row is not None and row.match_report else {}
            records = session.scalars(select(SightingEvidence).where(SightingEvidence.sighting_id == sighting_id)
                                      .order_by(SightingEvidence.seen_at, SightingEvidence.id)).all()
            evidence = [EvidenceEntry(r.kind, r.warc, r.record_id, r.sha256, r.seen_at) for r in records]
        return (report if isinstance(report, dict) else {}), evidence
