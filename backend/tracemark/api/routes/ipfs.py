"""`GET /ipfs/{cid}`: the blocks of the content store (metadata documents and previews), as an IPFS gateway would.

Public: everything here is already public by its CID. A block is immutable, so it is served with a year-long
`immutable` cache, its CID as the ETag, and a content type taken from its bytes (JSON, JPEG, PNG, WebP, GIF;
otherwise `application/octet-stream`), never from the request. A text that is not a raw CIDv1 is a 400; a block
the store does not have is a 404; a block that no longer matches its CID is never served (502).
"""

from __future__ import annotations

import json

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from tracemark.api.schemas import ErrorPublic
from tracemark.api.services import ContentStoreDep
from tracemark.ipfs import CidError, ContentStore, ContentUnavailableError, IntegrityError, digest_from_cid
from tracemark.ipfs.cid import cid_from_digest
from tracemark.ipfs.kubo import KuboStore

router = APIRouter(tags=["ipfs"])

IMMUTABLE = "public, max-age=31536000, immutable"




class LocalBlocks:
    """The blocks this service holds: an IPFS daemon is asked only for what it pins, since a daemon asked for a
    block it lacks searches for it until its timeout (even offline). Every block is still checked against its CID.
    """

    def __init__(self, store: ContentStore) -> None:
        self.store = store
        self.api_url: str | None = getattr(store, "api_url", None)
        self.root: object = getattr(store, "root", None)

    def get(self, cid: str) -> bytes:
        """The block, if this service holds it.

        Raises:
            CidError: the text is not a raw CIDv1.
            ContentUnavailableError: the block is not held here, or the store cannot be reached.
            IntegrityError: the stored block no longer matches its CID.
        """
        if isinstance(self.store, KuboStore) and not self.store.is_pinned(cid):
            raise ContentUnavailableError(f"no block {cid} is pinned at {self.store.api_url}")
        return self.store.get(cid)


def sniff_content_type(data: bytes) -> str:
    """The media type of a block, from its bytes."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:1] in (b"{", b"["):
        try:
            json.loads(data)
            return "application/json"
        except ValueError:
            pass
    return "application/octet-stream"


@router.get(
    "/ipfs/{cid}",
    response_class=Response,
    responses={
        200: {"description": "The block, byte for byte.",
              "content": {"application/json": {}, "image/jpeg": {}, "application/octet-stream": {}}},
        304: {"description": "The client's copy is current (If-None-Match)."},
        400: {"model": ErrorPublic, "description": "Not a CIDv1 of a raw sha2-256 block."},
        404: {"model": ErrorPublic, "description": "The store has no such block."},
        502: {"model": ErrorPublic, "description": "The stored block does not match its CID, or the IPFS node "
                                                    "does not answer."},
    },
)
async def block(cid: str, request: Request, store: ContentStoreDep) -> Response:
    """A raw block by its CID (any multibase spelling of a CIDv1 raw sha2-256)."""
    try:
        canonical = cid_from_digest(digest_from_cid(cid))
    except CidError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from exc
    etag = f'"{canonical}"'
    headers = {"Cache-Control": IMMUTABLE, "ETag": etag, "X-Content-Type-Options": "nosniff"}
    if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    try:
        data = await run_in_threadpool(LocalBlocks(store).get, canonical)
    except ContentUnavailableError as exc:
        if type(exc.__cause__).__name__ in {"ConnectionError", "TimeoutError"}:
            raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail="the IPFS node does not answer") from exc
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no block {canonical}") from exc
    except IntegrityError as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail=f"the stored block {canonical} is damaged") from exc
    return Response(content=data, media_type=sniff_content_type(data), headers=headers)
