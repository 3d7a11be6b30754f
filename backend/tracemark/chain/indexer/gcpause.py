"""Pausing Python's cyclic garbage collector around bulk work.

Decoding and storing ten thousand logs allocates hundreds of thousands of small dicts and tuples, none of them in
reference cycles; the collector would still walk the whole heap several times meanwhile, which measured at about
three times the cost of the decoding itself. Reference counting frees everything as usual while paused.

The collector's switch is process-wide, and the indexer decodes in one thread while it writes in another: the
pause is therefore counted, and the collector comes back only when the last overlapping pause ends (and only if
it was on before the first began).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_restore = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disables the cyclic collector for the block (safe to nest and to overlap across threads), then restores
    it once no pause is left."""
    global _depth, _restore
    with _lock:
        if _depth == 0:
            _restore = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _restore:
                gc.enable()
