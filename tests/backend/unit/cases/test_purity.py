"""The cases package is a domain core: importing it loads no web, chain, database or settings code."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("fastapi", "starlette", "web3", "eth_account", "sqlalchemy", "alembic", "httpx", "scrapy", "smtplib",
             "tracemark.config", "tracemark.api", "tracemark.chain", "tracemark.store", "tracemark.mail")


def test_importing_cases_loads_no_adapter() -> None:
    code = ("import sys, tracemark.cases\n"
            f"bad = [m for m in sys.modules if m.startswith({FORBIDDEN!r})]\n"
            "print(','.join(sorted(bad)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == ""
