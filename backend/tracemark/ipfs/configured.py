"""The content store the settings name: the IPFS daemon at `ipfs_api_url`, else the embedded store in
`<data_dir>/ipfs` (whose blocks the API serves at `/ipfs/{cid}`)."""

from __future__ import annotations

from tracemark.config import Settings
from tracemark.ipfs.embedded import EmbeddedStore
from tracemark.ipfs.store import ContentStore


def open_content_store(settings: Settings) -> ContentStore:
    """The configured content store (nothing is contacted yet)."""
    if settings.ipfs_api_url:
        from tracemark.ipfs.kubo import KuboStore

        return KuboStore(settings.ipfs_api_url)
    return EmbeddedStore(settings.data_dir / "ipfs")
