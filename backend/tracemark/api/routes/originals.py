"""`POST /v1/originals`, `GET /v1/originals`, `GET /v1/originals/{sha256}`: a holder's uploaded originals.

An upload passes every check of `tracemark.storage.validate_upload` (size, format by allow-list, structure,
metadata, dimensions, the whole image decoded) before anything is stored; a refused upload is a 4xx with the
reason and leaves no file and no row. An original is private to whoever uploaded it: anyone else gets 404, the
same answer as for an image nobody uploaded, so the API does not tell who holds which image.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Query, Response, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from tracemark.api.deps import DatabaseDep, SettingsDep
from tracemark.api.security import SessionDep
from tracemark.api.services import OriginalStoreDep
from tracemark.config import Settings
from tracemark.storage import OriginalStore, UploadLimits, UploadRejectedError, validate_upload
from tracemark.storage.originals import OriginalCorruptError, OriginalMissingError
from tracemark.store.registration_models import Original
from tracemark.store.registration_repository import MAX_PAGE, add_original, original_of, originals_of

router = APIRouter(prefix="/v1/originals", tags=["originals"])

_CHUNK = 1024 * 1024
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
ERRORS: dict[int | str, dict[str, object]] = {
    401: {"description": "No valid session."},
    413: {"description": "The upload is larger than the limit."},
    415: {"description": "Not an image in an accepted format, or not the declared one."},
    422: {"description": "The image is refused: truncated, corrupt, too large in pixels, animated, a polyglot..."},
}


class OriginalPublic(BaseModel):
    """An uploaded original, as its uploader sees it."""

    sha256: str
    size: int
    media_type: str
    width: int
    height: int
    created_at: datetime


def upload_limits(settings: Settings) -> UploadLimits:
    """The upload limits the settings name."""
    return UploadLimits(
        max_bytes=settings.originals_max_bytes, max_pixels=settings.originals_max_pixels,
        max_side=settings.originals_max_side, max_metadata_bytes=settings.originals_max_metadata_bytes,
        formats=frozenset(f.upper() for f in settings.originals_formats),
    )


async def read_limited(upload: UploadFile, limit: int) -> bytes:
    """The uploaded file's bytes; 413 as soon as they pass `limit`."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await upload.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                                detail=f"the file is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _public(row: Original) -> OriginalPublic:
    return OriginalPublic(sha256=row.sha256, size=row.size, media_type=row.media_type, width=row.width,
                          height=row.height, created_at=row.created_at)


@router.post("", response_model=OriginalPublic, status_code=status.HTTP_201_CREATED, responses=ERRORS)
async def upload(
    caller: SessionDep,
    database: DatabaseDep,
    settings: SettingsDep,
    originals: OriginalStoreDep,
    image: Annotated[UploadFile, File(description="The original image file (JPEG, PNG or WebP).")],
) -> OriginalPublic:
    """Uploads an original; it is checked and decoded whole before it is kept, privately, for the caller."""
    data = await read_limited(image, settings.originals_max_bytes)
    try:
        accepted = await run_in_threadpool(validate_upload, data, image.content_type, upload_limits(settings))
    except UploadRejectedError as exc:
        raise HTTPException(exc.status, detail=exc.message) from exc
    stored_before = originals.has(accepted.sha256)
    await run_in_threadpool(originals.put, accepted.data)
    try:
        with database.write() as session:
            row = add_original(session, Original(
                sha256=accepted.sha256, owner=caller.key, size=len(accepted.data), media_type=accepted.media_type,
                width=accepted.width, height=accepted.height, created_at=datetime.now(UTC),
            ))
            result = _public(row)
    except Exception:
        if not stored_before:
            originals.delete(accepted.sha256)
        raise
    return result


@router.get("", response_model=list[OriginalPublic], responses={401: ERRORS[401]})
def list_originals(caller: SessionDep, database: DatabaseDep,
                   limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50) -> list[OriginalPublic]:
    """The caller's uploads, newest first."""
    with database.read() as session:
        return [_public(row) for row in originals_of(session, caller.key, limit)]


def original_response(originals_store: OriginalStore, sha256: str, media_type: str) -> Response:
    """The bytes of an original, served so that no browser runs them: an attachment, no sniffing, sandboxed."""
    try:
        data = originals_store.get(sha256)
    except OriginalMissingError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such original") from exc
    except OriginalCorruptError as exc:
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, detail="the stored original is damaged") from exc
    return Response(content=data, media_type=media_type, headers={
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'attachment; filename="{sha256}.{_EXTENSIONS.get(media_type, "bin")}"',
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    })


@router.get("/{sha256}", responses={401: ERRORS[401], 404: {"description": "Not an original of the caller."}},
            response_class=Response)
def download(sha256: str, caller: SessionDep, database: DatabaseDep, originals: OriginalStoreDep) -> Response:
    """The caller's original, byte for byte; 404 for anyone who did not upload it."""
    key = sha256.lower().removeprefix("0x")
    if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such original")
    with database.read() as session:
        row = original_of(session, key, caller.key)
        media_type = row.media_type if row is not None else None
    if media_type is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such original")
    return original_response(originals, key, media_type)
