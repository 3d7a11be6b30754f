"""Loading the service's signing keys: a raw key, or an encrypted keystore with a password file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account

from tracemark.chain.keys import KeyUnavailableError, load_key

KEY = "0x" + "4c" * 32


def keystore(tmp_path: Path, password: str = "correct horse") -> tuple[Path, Path]:
    store = tmp_path / "verifier.json"
    # A low work factor keeps the test fast; real keystores use the default.
    store.write_text(json.dumps(Account.encrypt(KEY, password, kdf="pbkdf2", iterations=2)))
    secret = tmp_path / "password"
    secret.write_text(password + "\n")
    return store, secret


def test_a_raw_key_wins_and_nothing_set_means_no_key(tmp_path: Path) -> None:
    store, secret = keystore(tmp_path)
    assert load_key(KEY, store, secret) == KEY
    assert load_key("", None, None) == ""


def test_a_keystore_is_decrypted_with_the_first_line_of_the_password_file(tmp_path: Path) -> None:
    store, secret = keystore(tmp_path)
    assert load_key("", store, secret) == KEY


@pytest.mark.parametrize("case", ["wrong password", "no password file", "missing keystore", "not a keystore"])
def test_an_unusable_keystore_is_a_clear_error_that_names_no_secret(tmp_path: Path, case: str) -> None:
    store, secret = keystore(tmp_path)
    if case == "wrong password":
        secret.write_text("guess\n")
    if case == "not a keystore":
        store.write_text('{"hello": "world"}')
    arguments = {
        "no password file": (store, None),
        "missing keystore": (tmp_path / "nothing.json", secret),
    }.get(case, (store, secret))
    with pytest.raises(KeyUnavailableError) as raised:
        load_key("", *arguments)
    assert "correct horse" not in str(raised.value) and "4c4c" not in str(raised.value)
