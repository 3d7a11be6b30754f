"""Reading blocks through an HTTP gateway (`GET <base>/ipfs/<cid>`): any public IPFS gateway, the js-ipfs
daemon's gateway, or the Tracemark API's own `/ipfs/{cid}`.

A gateway is not trusted: what it returns must hash to the CID, as with every other source.
"""

from __future__ import annotations

import httpx

from tracemark.ipfs.cid import MAX_BLOCK_SIZE, cid_from_digest, digest_from_cid, verify_block
from tracemark.ipfs.store import ContentUnavailableError, IntegrityError


class GatewaySource:
    """Raw blocks fetched from an HTTP gateway, checked against their CID."""

    def __init__(self, base_url: str, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/").removesuffix("/ipfs")
        self.timeout_s = timeout_s

    def get(self, cid: str) -> bytes:
        """The block a CID names.

        Raises:
            CidError: the text is not a raw CIDv1.
            ContentUnavailableError: the gateway does not answer, or has no such block.
            IntegrityError: the gateway returned other bytes than the CID names.
        """
        canonical = cid_from_digest(digest_from_cid(cid))
        url = f"{self.base_url}/ipfs/{canonical}"
        try:
            with httpx.stream("GET", url, timeout=self.timeout_s, follow_redirects=False,
                              headers={"Accept": "application/vnd.ipld.raw, */*"}) as response:
                if response.status_code != 200:
                    raise ContentUnavailableError(f"gateway {self.base_url} answered {response.status_code} for {cid}")
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_BLOCK_SIZE:
                        raise IntegrityError(f"gateway {self.base_url} returned more than one block for {cid}")
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise ContentUnavailableError(f"gateway {self.base_url} cannot be reached: {exc}") from exc
        data = b"".join(chunks)
        if not verify_block(cid, data):
            raise IntegrityError(f"gateway {self.base_url} returned bytes that do not match {cid}")
        return data
