"""Runs `tracemark` behind the test network guard (the crawl tests start this instead of the bare command).

Environment:
    TM_NETGUARD_LOG: file the guard appends attempts and lookups to (JSON lines).
    TM_TEST_DNS: JSON object, name -> list of answers (each a list of addresses), served in turn.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))

from tests.backend.netguard import NetGuard


def main() -> int:
    log = os.environ.get("TM_NETGUARD_LOG")
    dns = json.loads(os.environ.get("TM_TEST_DNS", "{}"))
    NetGuard(dns=dns, log=Path(log) if log else None).install()
    from tracemark.cli import main as tracemark_main

    return int(tracemark_main(standalone_mode=True) or 0)


if __name__ == "__main__":
    sys.exit(main())
