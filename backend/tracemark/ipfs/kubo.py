"""An adapter for an IPFS daemon's Kubo-compatible RPC API (Kubo, or the js-ipfs daemon), via ipfshttpclient.

`ipfshttpclient.connect()` refuses daemons newer than 0.8 (js-ipfs reports 0.18), so the client is built directly.
Content goes in as CIDv1 with raw leaves, pinned; the daemon's CID must equal the local computation, and content
coming out must hash to its CID, so a faulty or hostile daemon cannot make us record or serve the wrong bytes.
"""

from __future__ import annotations

import warnings
from typing import Any

from tracemark.ipfs.cid import MAX_BLOCK_SIZE, digest_from_cid, raw_cid, same_cid, verify_block
from tracemark.ipfs.store import BlockTooLargeError, ContentUnavailableError, IntegrityError

with warnings.catch_warnings():
    # ipfshttpclient warns about its own urllib3 usage at import time; that is not ours to fix.
    warnings.simplefilter("ignore")
    import ipfshttpclient
    from ipfshttpclient.exceptions import Error as IpfsError

_ADD_OPTIONS = {"cid-version": 1, "raw-leaves": True, "cid-base": "base32", "pin": True}


def _multiaddr(url: str) -> str:
    """Accepts `http://127.0.0.1:5001` or a multiaddr such as `/ip4/127.0.0.1/tcp/5001/http`."""
    if url.startswith("/"):
        return url
    scheme, _, rest = url.partition("://")
    host, _, port = rest.rstrip("/").partition(":")
    if scheme not in {"http", "https"} or not host or not port.isdigit():
        raise ValueError(f"an IPFS API address looks like http://127.0.0.1:5001, not {url!r}")
    kind = "ip6" if ":" in host else ("ip4" if host.replace(".", "").isdigit() else "dns")
    return f"/{kind}/{host}/tcp/{port}/{scheme}"


class KuboStore:
    """Blocks in an IPFS daemon, pinned."""

    def __init__(self, api_url: str, timeout_s: float = 30.0) -> None:
        self.api_url = api_url
        self._client: Any = ipfshttpclient.Client(_multiaddr(api_url), timeout=timeout_s)

    def put(self, data: bytes) -> str:
        """Adds and pins a block; returns its CID after checking it against a local computation.

        Raises:
            BlockTooLargeError: the content does not fit in one raw block.
            ContentUnavailableError: the daemon cannot be reached or refused the content.
            IntegrityError: the daemon answered with another CID than the content's own.
        """
        if len(data) > MAX_BLOCK_SIZE:
            raise BlockTooLargeError(f"{len(data)} bytes is more than one raw block ({MAX_BLOCK_SIZE} bytes)")
        expected = raw_cid(data)
        try:
            answered = str(self._client.add_bytes(data, opts=_ADD_OPTIONS))
        except IpfsError as exc:
            raise ContentUnavailableError(f"IPFS daemon at {self.api_url} did not store the block: {exc}") from exc
        if not same_cid(answered, expected):
            raise IntegrityError(f"IPFS daemon answered CID {answered}, but the content's CID is {expected}")
        return expected

    def get(self, cid: str) -> bytes:
        """The block a CID names, checked against the CID.

        Raises:
            CidError: the text is not a raw CIDv1.
            ContentUnavailableError: the daemon does not have it or cannot be reached.
            IntegrityError: the daemon returned other bytes than the CID names.
        """
        digest_from_cid(cid)  # refuses anything but a raw CIDv1 before the daemon is asked
        try:
            data = bytes(self._client.cat(cid, length=MAX_BLOCK_SIZE + 1))
        except IpfsError as exc:
            raise ContentUnavailableError(f"IPFS daemon at {self.api_url} has no block {cid}: {exc}") from exc
        if not verify_block(cid, data):
            raise IntegrityError(f"IPFS daemon returned bytes that do not match {cid}")
        return data

    def has(self, cid: str) -> bool:
        """Whether the daemon pins the block."""
        try:
            keys = self._client.pin.ls(type="recursive")["Keys"]
        except IpfsError as exc:
            raise ContentUnavailableError(f"IPFS daemon at {self.api_url} cannot be reached: {exc}") from exc
        return any(same_cid(key, cid) for key in keys)

    def is_pinned(self, cid: str) -> bool:
        """Whether the daemon pins this one block, asked without listing every pin (a daemon asked to `cat` a block
        it lacks searches for it until its timeout, even offline).

        Raises:
            CidError: the text is not a raw CIDv1.
            ContentUnavailableError: the daemon cannot be reached.
        """
        digest_from_cid(cid)
        try:
            keys = self._client.pin.ls(cid, type="recursive")["Keys"]
        except IpfsError as exc:
            if "not pinned" in str(exc):
                return False
            raise ContentUnavailableError(f"IPFS daemon at {self.api_url} cannot be reached: {exc}") from exc
        return any(same_cid(key, cid) for key in keys)

    def version(self) -> str:
        """The daemon's version, e.g. `0.18.1` for js-ipfs."""
        try:
            return str(self._client.version()["Version"])
        except IpfsError as exc:
            raise ContentUnavailableError(f"IPFS daemon at {self.api_url} cannot be reached: {exc}") from exc
