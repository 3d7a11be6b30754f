"""`POST /v1/match/search`: find the registered images an uploaded picture is a copy of.

Not registered in the app here: the application wires it (with authentication) and puts a `MatchIndex` in
`app.state.match_index`. The answer has the same JSON shape as `tracemark match search --json`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Request, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tracemark.matching import MatchIndex, MatchingError
from tracemark.matching.models import Match

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
"""Largest accepted upload; larger bodies are refused with 413 before decoding."""

_CHUNK = 1024 * 1024

router = APIRouter(prefix="/v1/match", tags=["matching"])


class MatchSearchPublic(BaseModel):
    """The matches of one uploaded picture, best first (only verified matches)."""

    query: str = Field(description="The uploaded file's name.")
    matches: list[Match]


class MatchSearchErrorPublic(BaseModel):
    """An uploaded picture that could not be searched (unreadable, too small, too large)."""

    query: str
    error: str


def get_match_index(request: Request) -> MatchIndex:
    """The index the app searches (`app.state.match_index`).

    Raises:
        HTTPException: 503 when the app has no match index configured.
    """
    index: MatchIndex | None = getattr(request.app.state, "match_index", None)
    if index is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="matching is not configured")
    return index


MatchIndexDep = Annotated[MatchIndex, Depends(get_match_index)]


async def _read_limited(upload: UploadFile, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await upload.read(_CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, detail=f"upload larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/search",
    response_model=MatchSearchPublic,
    responses={
        413: {"description": "The upload is larger than the limit."},
        422: {"model": MatchSearchErrorPublic, "description": "The upload is not an image that can be searched."},
        503: {"description": "Matching is not configured."},
    },
)
async def search(
    index: MatchIndexDep,
    image: Annotated[UploadFile, File(description="The picture to search (JPEG, PNG, WebP, GIF, TIFF, ...).")],
) -> MatchSearchPublic | JSONResponse:
    """Finds the registered images the uploaded picture is a copy of, and explains the edits."""
    name = image.filename or "upload"
    data = await _read_limited(image, MAX_UPLOAD_BYTES)
    try:
        matches = await run_in_threadpool(index.search, data)
    except MatchingError as exc:
        body = MatchSearchErrorPublic(query=name, error=str(exc))
        return JSONResponse(status_code=status.HTTP_422_UNPROCESSABLE_ENTITY, content=body.model_dump())
    return MatchSearchPublic(query=name, matches=matches)
