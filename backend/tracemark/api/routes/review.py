"""`/v1/review`: the caseworkers' queue of applications the audit sent to review.

A caseworker lists the queue, reads an application's audit report, looks at its original and at the registered
images it was matched with, and approves or rejects it with a reason (recorded with the caseworker's address).
An approved application is published and attested at once. Only caseworkers (`TRACEMARK_CASEWORKERS`) get in:
everyone else 403; a caseworker never decides an own application.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query, Response, status
from pydantic import BaseModel, Field

from tracemark.api.deps import DatabaseDep
from tracemark.api.routes.originals import original_response
from tracemark.api.routes.registrations import RegistrationPublic, answer, public, refused
from tracemark.api.security import CaseworkerDep
from tracemark.api.services import OriginalStoreDep, RegistrationServiceDep
from tracemark.domain.application import Status
from tracemark.services.registration import RegistrationError, RegistrationView
from tracemark.store.registration_repository import MAX_PAGE, any_original

router = APIRouter(prefix="/v1/review", tags=["review"])

ERRORS: dict[int | str, dict[str, object]] = {
    401: {"description": "No valid session."},
    403: {"description": "Not a caseworker, or the caseworker's own application."},
    404: {"description": "No such registration or image."},
    409: {"description": "The registration is not in review."},
}


class Decision(BaseModel):
    """A caseworker's decision."""

    approve: bool
    reason: str = Field(min_length=1, max_length=2000)


def _view(service: RegistrationServiceDep, registration_id: str) -> RegistrationView:
    try:
        return service.view(registration_id[:64])
    except RegistrationError as exc:
        raise refused(exc) from exc


def _image(database: DatabaseDep, originals: OriginalStoreDep, sha256: str) -> Response:
    with database.read() as session:
        row = any_original(session, sha256)
        media_type = row.media_type if row is not None else None
    if media_type is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such image")
    return original_response(originals, sha256, media_type)


@router.get("/registrations", response_model=list[RegistrationPublic], responses=ERRORS)
def queue(caller: CaseworkerDep, service: RegistrationServiceDep,
          state: Annotated[Status, Query(alias="status")] = Status.IN_REVIEW,
          limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50) -> list[RegistrationPublic]:
    """Applications with a status (in review by default), oldest first."""
    return [public(view) for view in service.queue(state, limit)]


@router.get("/registrations/{registration_id}", response_model=RegistrationPublic, responses=ERRORS)
def registration(registration_id: str, caller: CaseworkerDep, service: RegistrationServiceDep) -> RegistrationPublic:
    """An application with its whole audit report and history."""
    return public(_view(service, registration_id))


@router.get("/registrations/{registration_id}/original", response_class=Response, responses=ERRORS)
def original(registration_id: str, caller: CaseworkerDep, service: RegistrationServiceDep, database: DatabaseDep,
             originals: OriginalStoreDep) -> Response:
    """The application's original."""
    return _image(database, originals, _view(service, registration_id).sha256)


@router.get("/registrations/{registration_id}/matches/{sha256}", response_class=Response, responses=ERRORS)
def matched(registration_id: str, sha256: str, caller: CaseworkerDep, service: RegistrationServiceDep,
            database: DatabaseDep, originals: OriginalStoreDep) -> Response:
    """A registered image the audit matched the application's original with (only those named in its report)."""
    view = _view(service, registration_id)
    named = {str(c.get("details", {}).get("reference", "")).removeprefix("image ")
             for c in view.report["checks"] if c["check"] == "near_duplicate"}
    key = sha256.lower()
    if key not in named or len(key) != 64:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="the report names no such image")
    return _image(database, originals, key)


@router.post("/registrations/{registration_id}/decision", response_model=RegistrationPublic, responses=ERRORS)
def decide(registration_id: str, body: Annotated[Decision, Body()], caller: CaseworkerDep,
           service: RegistrationServiceDep, response: Response) -> RegistrationPublic:
    """Approves (then publishes and attests) or rejects an application in review, with a reason."""
    try:
        return answer(service.decide(caller.address, registration_id[:64], approve=body.approve,
                                     reason=body.reason), response)
    except RegistrationError as exc:
        raise refused(exc) from exc
