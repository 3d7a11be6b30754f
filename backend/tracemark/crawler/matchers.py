"""The matcher a crawl uses: the matching engine on an open index, called from the crawl's matching threads.

The index holds a lock while it verifies candidates, so more threads mostly overlap decoding and view building
with verification. Worker processes (each with its own view of the index) were tried and measured: on the 2-core
development machine they were slower than two threads (12.4 against 14.4 images per second), as they compete
with the crawler's own process for the same cores.
"""

from __future__ import annotations

from tracemark.matching import Match, MatchIndex


class IndexMatcher:
    """A `Matcher` over an open `MatchIndex` (the registry's or one given on the command line)."""

    def __init__(self, index: MatchIndex) -> None:
        self.index = index

    def search(self, source: bytes) -> list[Match]:
        """The verified matches of an image, best first."""
        return self.index.search(source)


__all__ = ["IndexMatcher"]
