"""The adapters and services the routes use, built on first use and kept on `app.state`.

Like the store (`api.deps.get_database`), nothing here is opened by an app that never serves these routes.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status

from tracemark.api.deps import get_database
from tracemark.cases.clock import Clock, SystemClock
from tracemark.chain.deployments import DeploymentError, load_deployment
from tracemark.chain.keys import KeyUnavailableError, load_key
from tracemark.chain.node import ChainNode, ChainUnavailableError
from tracemark.config import Settings
from tracemark.ipfs import ContentStore
from tracemark.ipfs.configured import open_content_store
from tracemark.matching import MatchIndex
from tracemark.services.cases import CasesService
from tracemark.services.registration import (
    DEV_RELAYER_KEY,
    DEV_VERIFIER_KEY,
    LOCAL_CHAIN_ID,
    RegistrationService,
    StoredSightings,
    Web3Registrar,
)
from tracemark.storage import OriginalStore
from tracemark.store import Database

_lock = threading.RLock()
_SYSTEM_CLOCK = SystemClock()


def _lazy(request: Request, name: str, build: Any) -> Any:
    state = request.app.state
    with _lock:
        if getattr(state, name, None) is None:
            setattr(state, name, build(state.settings))
        return getattr(state, name)


def get_content_store(request: Request) -> ContentStore:
    """Where metadata and previews are pinned (`app.state.content_store`, shared with `/ipfs/{cid}`)."""
    store: ContentStore = _lazy(request, "content_store", open_content_store)
    return store


def get_original_store(request: Request) -> OriginalStore:
    """The private folder of originals (`app.state.original_store`)."""
    store: OriginalStore = _lazy(request, "original_store", lambda s: OriginalStore(s.data_dir / "originals"))
    return store


def open_registry_index(request: Request) -> MatchIndex:
    """The matching index of registered images (`app.state.match_index`), also what `/v1/match/search` searches."""
    index: MatchIndex = _lazy(request, "match_index", lambda s: MatchIndex.open(s.data_dir / "registry-index"))
    return index


def build_registration_service(request: Request) -> RegistrationService:
    """The registration service for the chain the node serves, with its deployment and keys.

    Raises:
        HTTPException: 503 while the chain cannot be reached or has no deployment record.
    """
    settings: Settings = request.app.state.settings
    node: ChainNode = request.app.state.node
    try:
        chain_id = node.chain_id()
        deployment = load_deployment(settings.deployments_dir, chain_id)
    except (ChainUnavailableError, DeploymentError) as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"registration is unavailable: {exc}") from exc
    local = chain_id == LOCAL_CHAIN_ID
    try:
        verifier = load_key(settings.verifier_key.get_secret_value(), settings.verifier_keystore,
                            settings.keystore_password_file) or (DEV_VERIFIER_KEY if local else "")
        relayer = load_key(settings.relayer_key.get_secret_value(), settings.relayer_keystore,
                           settings.keystore_password_file) or (DEV_RELAYER_KEY if local else "")
    except KeyUnavailableError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"registration is unavailable: {exc}") from exc
    database = get_database(request)
    service = RegistrationService(
        database, get_original_store(request), get_content_store(request), open_registry_index(request),
        Web3Registrar(settings.rpc_url, deployment, timeout_s=settings.rpc_timeout_s),
        verifier_key=verifier or None, relayer_key=relayer or None, sightings=StoredSightings(database),
        attestation_ttl_s=settings.attestation_ttl_s,
    )
    service.refingerprint_stale()
    return service


def get_registration_service(request: Request) -> RegistrationService:
    """The registration service (`app.state.registration_service`), built once the chain answers."""
    with _lock:
        service: RegistrationService | None = getattr(request.app.state, "registration_service", None)
        if service is None:
            service = build_registration_service(request)
            request.app.state.registration_service = service
        return service


def market_of(settings: Settings, chain_id: int) -> str | None:
    """The LicenseMarket of the chain's deployment record, or None without one (no settlement quotes then)."""
    try:
        return load_deployment(settings.deployments_dir, chain_id).address_of("LicenseMarket")
    except (DeploymentError, KeyError):
        return None


def get_cases_service(request: Request, settings: Settings, database: Database, chain_id: int) -> CasesService:
    """The app's cases service, shared by the holder and caseworker routes and the portal: built on first use and
    kept on `app.state` while the settings, the store, the chain, the clock and the deployment's market stay the
    same (a new one when any changes). It signs settlement quotes for the market with the settlement key; a key
    that cannot be read leaves it without quotes. Letters are sent by the scheduler, never by the API. Time is the
    system's, or `app.state.cases_clock` when set (tests move it)."""
    state = request.app.state
    clock: Clock = getattr(state, "cases_clock", None) or _SYSTEM_CLOCK
    market = market_of(settings, chain_id)
    with _lock:
        kept: tuple[Settings, str | None, CasesService] | None = getattr(state, "cases_service", None)
        if kept is not None:
            kept_settings, kept_market, service = kept
            if (kept_settings is settings and kept_market == market and service.database is database
                    and service.chain_id == chain_id and service.clock is clock):
                return service
        try:
            service = CasesService.from_settings(settings, database, chain_id, clock, market_address=market)
        except KeyUnavailableError:
            service = CasesService.from_settings(settings, database, chain_id, clock)
        state.cases_service = (settings, market, service)
        return service


ContentStoreDep = Annotated[ContentStore, Depends(get_content_store)]
OriginalStoreDep = Annotated[OriginalStore, Depends(get_original_store)]
RegistryIndexDep = Annotated[MatchIndex, Depends(open_registry_index)]
RegistrationServiceDep = Annotated[RegistrationService, Depends(get_registration_service)]
