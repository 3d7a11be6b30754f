"""`tracemark register` against a running API (uvicorn, real HTTP) on a real anvil: minted through the relayer and
from the wallet, a review outcome that stops, and a refused duplicate."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import skimage.data
from click.testing import CliRunner
from PIL import Image

from tests.backend.integration.registration.chain_stack import Stack, jpeg, served, with_artist
from tests.backend.integration.registration.support import wallet
from tracemark.cli import main

pytestmark = pytest.mark.integration


def run(args: list[str], key: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["register", *args], env={"TRACEMARK_ACCOUNT_KEY": key},
                                catch_exceptions=False)
    return result.exit_code, result.output


def test_register_cli(stack: Stack, tmp_path: Path) -> None:
    alice, bob, carol = wallet(0xA11CE), wallet(0xB0B), wallet(0xCA401)
    image = tmp_path / "moon.jpg"
    image.write_bytes(jpeg(Image.fromarray(skimage.data.astronaut()).rotate(270)))
    with served(stack.client.app) as api:
        code, out = run([str(image), "--title", "Moon", "--creator-name", "Alice", "--api", api], alice.key.hex())
        assert code == 0, out
        token = int.from_bytes(hashlib.sha256(image.read_bytes()).digest(), "big")
        assert f"certificate {token}" in out and "transaction 0x" in out and "metadata    bafkrei" in out
        assert stack.certificate_contract().functions.ownerOf(token).call() == alice.address

        code, out = run([str(image), "--title", "Mine", "--api", api], bob.key.hex())
        assert code == 1 and "exact_duplicate" in out

        review = tmp_path / "coffee.jpg"
        review.write_bytes(with_artist(Image.fromarray(skimage.data.coffee()), "Somebody Else"))
        code, out = run([str(review), "--title", "Coffee", "--creator-name", "Bob", "--api", api], bob.key.hex())
        assert code == 3 and "is in review" in out and "Somebody Else" in out

        own = tmp_path / "cat.jpg"
        own.write_bytes(jpeg(Image.fromarray(skimage.data.chelsea())))
        stack.fund(carol.address)
        code, out = run([str(own), "--title", "Cat", "--api", api, "--wallet", "--rpc", stack.url, "--json"],
                        carol.key.hex())
        assert code == 0, out
        assert '"status": "minted"' in out and '"relayed": false' in out

        code, out = run([str(tmp_path / "missing.jpg"), "--title", "x", "--api", api], alice.key.hex())
        assert code == 2
