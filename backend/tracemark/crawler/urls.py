"""URLs found in pages, made absolute the one way every reader of a page uses."""

from __future__ import annotations

from urllib.parse import urldefrag, urljoin, urlsplit

#: The longest reference taken from a page; longer ones are ignored.
MAX_URL = 2048


def absolute_url(base: str, ref: str) -> str | None:
    """An absolute http(s) URL, without its fragment, for a reference found in a page at `base`; None for what names
    no fetchable resource (empty, `data:`, `javascript:`, `mailto:`, `blob:`, other schemes, no host, malformed, or
    longer than `MAX_URL`)."""
    ref = ref.strip()
    if not ref or len(ref) > MAX_URL or ref.startswith(("data:", "javascript:", "mailto:", "blob:")):
        return None
    try:
        url = urldefrag(urljoin(base, ref))[0]
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return url
