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

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

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
from tracemark.cases.image_rights import ImageRights
from tracemark.cases.letters import Letter, LetterContext, LetterDispatcher, LetterKind, LetterTransport
from tracemark.cases.licence_check import (
    HolderFacts,
    LicenceCheck,
    OnChainLicence,
    PageLicenceData,
    UseFacts,
    check_licence,
)
from tracemark.cases.scheduler import DeadlineScheduler
from tracemark.cases.split import Split, SplitPolicy, split
from tracemark.cases.workflow import (
    Actor,
    Case,
    CaseError,
    CaseState,
    Role,
    Standing,
    TransitionError,
    open_case,
    record_licence_check,
    submit_claim,
    transition,
)
from tracemark.config import Settings
from tracemark.store import Database
from tracemark.store import case_repository as cases_repo
from tracemark.store.case_repository import SqlActionLedger, SqlCaseRepository, SqlLetterStore
from tracemark.store.chain_repository import ChainState, ReadPoint
from tracemark.store.sighting_models import SightingRecord, SiteRecord

PERPETUAL = datetime(9999, 12, 31, tzinfo=UTC)
REVIEW_QUEUE = (CaseState.CLAIM_SUBMITTED, CaseState.IN_REVIEW)


class CaseNotFoundError(CaseError):
    """No such case or sighting, or one of another holder (the caller must not learn which)."""


class ChainNotIndexedError(CaseError):
    """The chain has not been indexed: no standing or licence can be checked."""


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
        matrix_version: The compensation matrix (None: the newest).
    """

    def __init__(self, database: Database, chain_id: int, clock: Clock, *, policy: DeadlinePolicy | None = None,
                 split_policy: SplitPolicy | None = None, transport: LetterTransport | None = None,
                 portal_url: str = "http://127.0.0.1:8000", matrix_version: str | None = None,
                 message_domain: str = "tracemark.invalid") -> None:
        self.database, self.chain_id, self.clock = database, chain_id, clock
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
                      transport: LetterTransport | None = None) -> CasesService:
        """The service as the settings configure it."""
        policy = DeadlinePolicy.from_days(settings.case_reminder_days, settings.case_damages_days,
                                          settings.case_lawyer_days, settings.case_court_days)
        split_policy = SplitPolicy(settings.case_holder_share_bps, settings.case_external_abroad_holder_share_bps,
                                   settings.case_home_country)
        return cls(database, chain_id, clock, policy=policy, split_policy=split_policy, transport=transport,
                   portal_url=settings.public_url, matrix_version=settings.compensation_matrix_version or None)

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
            return SightingFacts(row.id, row.certificate_id, site.host, row.page_url, row.image_url,
                                 site.country_code, row.first_seen, row.last_seen,
                                 operator if isinstance(operator, dict) else {})

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
        the holder's whitelist, the operator's wallets (`wallets` in its imprint data), page and image data."""
        facts = self._facts(case)
        with self.database.read() as session:
            chain = ChainState(session, self.chain_id)
            point = self._read_point(chain)
            cert = chain.certificate(facts.certificate_id, point)
            disputed = cert is None or cert.disputed
            licences = self._on_chain_licences(chain, point, facts.certificate_id)
        wallets = facts.operator.get("wallets") or []
        holder = HolderFacts(holder=case.holder, whitelist=tuple(cases_repo.whitelist_of(self.database, case.holder)))
        use = UseFacts(certificate_id=case.certificate_id, host=case.host, page_url=case.page_url,
                       first_seen=facts.first_seen, last_seen=facts.last_seen, country=case.country, usage=usage,
                       operator_addresses=tuple(str(w).lower() for w in wallets if isinstance(w, str)))
        return check_licence(disputed=disputed, holder=holder, use=use, licences=licences,
                             page=page or PageLicenceData(), image=image, now=self.clock.now())

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
            recipient_email=str(email or ""), case_link=f"{self.portal_url}/cases/{case.case_id}",
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
