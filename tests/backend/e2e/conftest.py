"""Fixtures of the browser tests: the cases' world (anvil with the indexer, SMTP, a database), a real uvicorn server
on loopback, and Debian's chromium driven by Playwright (never `playwright install`).

Chromium: `/usr/bin/chromium` (or `TRACEMARK_CHROMIUM`), installed by `make browser` (part of `make test`). Where it
is truly absent the tests are skipped and say why, unless `TRACEMARK_REQUIRE_BROWSER=1` (set by `.ci/run`), where
that is a failure: CI must run them.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.backend.conftest import free_port
from tests.backend.integration.databases import any_database  # noqa: F401 - shared fixture
from tests.backend.integration.indexer.conftest import (  # noqa: F401 - shared fixtures
    deployed_state,
    dev_chain,
    postgres_url,
)
from tests.backend.integration.mail.conftest import certificate, plain_smtp  # noqa: F401 - shared fixtures

CHROMIUM = Path(os.environ.get("TRACEMARK_CHROMIUM", "/usr/bin/chromium"))
#: The flags TOOLCHAIN.md names for Debian's chromium here.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update"]


def _absent(reason: str) -> None:
    if os.environ.get("TRACEMARK_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}; CI requires the browser tests (TRACEMARK_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's chromium, or a skip that says why (a failure under TRACEMARK_REQUIRE_BROWSER=1)."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        _absent(f"chromium is not installed at {CHROMIUM} (apt-get install chromium, or `make browser`)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _absent("playwright is not installed (pip install -c constraints.txt -e '.[dev]')")
    return CHROMIUM


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Runs `app` on a real uvicorn server on 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                                           access_log=False))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
