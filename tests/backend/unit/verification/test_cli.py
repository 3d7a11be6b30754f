"""`tracemark verify` without a chain: usage errors and an unreachable chain are told apart by the exit status."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tests.backend.conftest import free_port
from tracemark.cli import main


def invoke(tmp_path: Path, *args: str) -> tuple[int, str]:
    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    env = {"TRACEMARK_DEPLOYMENTS_DIR": str(tmp_path / "deployments")}
    result = CliRunner().invoke(main, ["verify", str(image), *args], env=env)
    return result.exit_code, result.output


def test_an_unreachable_chain_is_unavailable(tmp_path: Path) -> None:
    code, out = invoke(tmp_path, "--rpc", f"http://127.0.0.1:{free_port()}", "--timeout", "2")
    assert code == 5, out
    assert out.startswith("UNAVAILABLE") and "does not answer" in out


def test_an_unreachable_chain_in_json(tmp_path: Path) -> None:
    import json

    code, out = invoke(tmp_path, "--rpc", f"http://127.0.0.1:{free_port()}", "--timeout", "2", "--json")
    assert code == 5 and json.loads(out)["verdict"] == "unavailable"


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    code, out = invoke(tmp_path, "--contract", "0x1234", "--rpc", f"http://127.0.0.1:{free_port()}")
    assert code == 2 and "not an address" in out
    code, out = invoke(tmp_path, "--ipfs", "ftp://somewhere", "--rpc", f"http://127.0.0.1:{free_port()}")
    assert code == 2 and "--ipfs" in out
    result = CliRunner().invoke(main, ["verify", str(tmp_path / "missing.png")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_the_help_documents_the_exit_status() -> None:
    result = CliRunner().invoke(main, ["verify", "--help"])
    assert result.exit_code == 0
    assert "0 verified, 1 not registered" in " ".join(result.output.split())
