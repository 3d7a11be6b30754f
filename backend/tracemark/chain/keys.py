"""Signing keys of the service (verifier, relayer): a raw key from the environment, or an encrypted JSON keystore
(Web3 Secret Storage, as geth, Foundry's `cast wallet` and eth-account write it) with its password in a file."""

from __future__ import annotations

import json
from pathlib import Path

from eth_account import Account


class KeyUnavailableError(Exception):
    """A configured key cannot be loaded; the message says why (never the key or the password)."""


def load_key(raw: str, keystore: Path | None, password_file: Path | None) -> str:
    """The private key (0x hex) the settings name, or "" when neither a raw key nor a keystore is set.

    Args:
        raw: A hex private key (wins when set).
        keystore: An encrypted JSON keystore file.
        password_file: A file whose first line is the keystore's password (needed with `keystore`).

    Raises:
        KeyUnavailableError: the keystore cannot be read or decrypted, or no password file is set.
    """
    if raw:
        return raw
    if keystore is None:
        return ""
    if password_file is None:
        raise KeyUnavailableError(f"the keystore {keystore} needs a password file (TRACEMARK_KEYSTORE_PASSWORD_FILE)")
    try:
        document = json.loads(keystore.read_text(encoding="utf-8"))
        lines = password_file.read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError) as exc:
        raise KeyUnavailableError(f"cannot read the keystore {keystore} or its password file: {exc}") from exc
    password = lines[0] if lines else ""
    try:
        key = Account.decrypt(document, password)
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyUnavailableError(f"cannot decrypt the keystore {keystore}: wrong password or not a keystore") from exc
    return "0x" + bytes(key).hex()
