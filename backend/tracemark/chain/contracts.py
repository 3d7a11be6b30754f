"""The ABIs of the Tracemark contracts, shipped with the package so the backend needs no compiler.

`make abi` rewrites `chain/abi/*.json` from the compiled project; a test fails when they drift apart.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from tracemark.chain.deployments import CONTRACT_NAMES


@cache
def abi_of(name: str) -> list[dict[str, Any]]:
    """The ABI of a Tracemark contract, e.g. `abi_of("LicenseMarket")`.

    Raises:
        KeyError: for a name that is not a Tracemark contract.
    """
    if name not in CONTRACT_NAMES:
        raise KeyError(f"not a Tracemark contract: {name!r} (known: {', '.join(CONTRACT_NAMES)})")
    text = resources.files("tracemark.chain").joinpath("abi", f"{name}.json").read_text(encoding="utf-8")
    abi: list[dict[str, Any]] = json.loads(text)
    return abi
