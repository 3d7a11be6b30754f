"""`tracemark register IMAGE --title T`: registers an image through a running Tracemark API, start to finish.

    tracemark register photo.jpg --title "Dawn" [--creator-name "Jane Doe"] [--account KEYFILE] [--api URL]
                                 [--wallet [--rpc URL]] [--json] [--timeout S]

Signs in with the account (Sign-In with Ethereum), uploads the original, signs the declaration of authorship,
applies (the service audits the image, pins its metadata to IPFS and signs the attestation), and has the
certificate minted: by the service's relayer (default), or with `--wallet` by the account itself through `--rpc`.
Prints the certificate id, the transaction and the metadata CID. When the audit sends the application to review,
it says so and stops; a caseworker decides, and `GET /v1/registrations/<id>` follows it.

`--account` is an Ethereum keystore JSON (password from `TRACEMARK_ACCOUNT_PASSWORD`, else asked for) or a file
holding a hex private key; without it, `TRACEMARK_ACCOUNT_KEY`; on the local chain (31337) anvil's account 9.

Exit status: 0 minted; 1 refused (upload or audit failed, rejected); 2 usage error; 3 in review; 4 not minted
in time (the application goes on: follow it); 5 the API or the chain could not be reached.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import httpx
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3

from tracemark.auth.sessions import public_url
from tracemark.auth.siwe import SignInPolicy, build_message
from tracemark.config import get_settings

DEV_ACCOUNT_KEY = "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6"  # anvil's account 9
LOCAL_CHAIN_ID = 31337

EXIT_MINTED, EXIT_REFUSED, EXIT_USAGE, EXIT_REVIEW, EXIT_PENDING, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4, 5


class RegisterError(Exception):
    """The registration stopped; `code` is the exit status."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def sign_text(account: LocalAccount, text: str) -> str:
    """An EIP-191 signature, 0x hex."""
    return "0x" + bytes(account.sign_message(encode_defunct(text=text)).signature).hex()


@dataclass
class RegistrationClient:
    """The registration path over the HTTP API, one step per method; `timings` collects seconds per stage."""

    api: str
    account: LocalAccount
    timeout_s: float = 30.0
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.api.rstrip("/"), timeout=self.timeout_s)

    def close(self) -> None:
        """Closes the connection pool."""
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            answer = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RegisterError(EXIT_UNAVAILABLE, f"the API at {self.api} cannot be reached: {exc}") from exc
        if answer.status_code >= 400:
            try:
                detail = answer.json().get("detail", answer.text)
            except ValueError:
                detail = answer.text
            code = EXIT_UNAVAILABLE if answer.status_code >= 500 else EXIT_REFUSED
            raise RegisterError(code, f"{method} {path}: {answer.status_code} {detail}")
        for entry in answer.headers.get("server-timing", "").split(","):
            name, _, duration = entry.strip().partition(";dur=")
            if name and duration:
                self.timings[f"server_{name}"] = self.timings.get(f"server_{name}", 0.0) + float(duration) / 1000
        return answer.json() if answer.content else None

    def sign_in(self) -> int:
        """Signs in; returns the chain id the service serves."""
        issued = self._call("POST", "/v1/auth/nonce")
        policy = SignInPolicy(domain=issued["domain"], uri=issued["uri"], chain_id=issued["chain_id"],
                              statement=issued["statement"])
        message = build_message(policy, self.account.address, issued["nonce"], datetime.now(UTC))
        session = self._call("POST", "/v1/auth/login", json={"message": message,
                                                            "signature": sign_text(self.account, message)})
        self.http.headers["Authorization"] = f"Bearer {session['token']}"
        self.http.cookies.clear()
        return int(issued["chain_id"])

    def upload(self, data: bytes, name: str) -> str:
        """Uploads the original; returns its SHA-256."""
        start = time.perf_counter()
        answer = self._call("POST", "/v1/originals", files={"image": (name, data, "application/octet-stream")})
        self.timings["upload"] = time.perf_counter() - start
        return str(answer["sha256"])

    def apply(self, sha256: str, title: str, creator_name: str, relay: bool) -> dict[str, Any]:
        """Signs the declaration and applies; returns the registration."""
        fields = {"original": sha256, "title": title, "creator_name": creator_name}
        text = self._call("POST", "/v1/registrations/declaration", json=fields)["text"]
        start = time.perf_counter()
        body = fields | {"declaration_signature": sign_text(self.account, text), "relay": relay}
        registration: dict[str, Any] = self._call("POST", "/v1/registrations", json=body)
        self.timings["apply"] = time.perf_counter() - start
        return registration

    def send_from_wallet(self, registration: dict[str, Any], rpc_url: str) -> dict[str, Any]:
        """Sends the attested registration from the account itself, and tells the service."""
        attestation = registration["attestation"]
        w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": self.timeout_s}))
        try:
            tx = {"to": attestation["contract"], "data": attestation["calldata"], "from": self.account.address,
                  "chainId": registration["chain_id"], "nonce": w3.eth.get_transaction_count(self.account.address)}
            tx["gas"] = int(w3.eth.estimate_gas(tx) * 1.2)  # type: ignore[arg-type]
            fees = w3.eth.fee_history(1, "latest")
            base = int(fees["baseFeePerGas"][-1])
            tx |= {"maxFeePerGas": 2 * base + 10**9, "maxPriorityFeePerGas": 10**9}
            tx_hash = w3.eth.send_raw_transaction(self.account.sign_transaction(tx).raw_transaction).to_0x_hex()
        except Exception as exc:  # web3 raises many transport and revert errors
            raise RegisterError(EXIT_UNAVAILABLE, f"the transaction could not be sent via {rpc_url}: {exc}") from exc
        answer: dict[str, Any] = self._call("POST", f"/v1/registrations/{registration['id']}/transaction",
                                            json={"tx_hash": tx_hash})
        return answer

    def wait_minted(self, registration_id: str, timeout_s: float) -> dict[str, Any]:
        """Follows the registration until it is minted, or until `timeout_s` passed."""
        start = time.perf_counter()
        deadline = time.monotonic() + timeout_s
        while True:
            registration: dict[str, Any] = self._call("GET", f"/v1/registrations/{registration_id}")
            if registration["status"] == "minted" or time.monotonic() > deadline:
                self.timings["mint_wait"] = time.perf_counter() - start
                return registration
            time.sleep(0.2)


def load_account(keyfile: Path | None, chain_id: int | None = None) -> LocalAccount:
    """The account to register with (see the module's docstring).

    Raises:
        RegisterError: no account is given, or the key file cannot be read.
    """
    if keyfile is not None:
        try:
            text = keyfile.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise RegisterError(EXIT_USAGE, f"cannot read {keyfile}: {exc}") from exc
        if text.startswith("{"):
            password = os.environ.get("TRACEMARK_ACCOUNT_PASSWORD")
            if password is None:
                password = click.prompt("keystore password", hide_input=True)
            try:
                account: LocalAccount = Account.from_key(Account.decrypt(json.loads(text), password))
                return account
            except ValueError as exc:
                raise RegisterError(EXIT_USAGE, f"cannot decrypt {keyfile}: {exc}") from exc
        try:
            from_file: LocalAccount = Account.from_key(text)
            return from_file
        except Exception as exc:
            raise RegisterError(EXIT_USAGE, f"{keyfile} holds neither a keystore nor a hex private key") from exc
    key = os.environ.get("TRACEMARK_ACCOUNT_KEY") or (DEV_ACCOUNT_KEY if chain_id == LOCAL_CHAIN_ID else None)
    if key:
        from_env: LocalAccount = Account.from_key(key)
        return from_env
    raise RegisterError(EXIT_USAGE, "name the account: --account KEYFILE or TRACEMARK_ACCOUNT_KEY")


def _failed_checks(registration: dict[str, Any], outcome: str) -> list[str]:
    return [f"  {c['check']}: {c['reason']}" for c in registration["audit"]["checks"] if c["outcome"] == outcome]


def run_registration(image: Path, title: str, creator_name: str, account_file: Path | None, api: str, wallet: bool,
                     rpc_url: str, timeout_s: float) -> tuple[int, dict[str, Any]]:
    """The whole path; returns the exit status and the last registration (or an error document)."""
    try:
        data = image.read_bytes()
    except OSError as exc:
        raise RegisterError(EXIT_USAGE, f"cannot read {image}: {exc}") from exc
    probe = httpx.Client(base_url=api.rstrip("/"), timeout=30)
    try:
        chain_id = int(probe.get("/v1/contracts").json()["chain_id"])
    except Exception:
        chain_id = None
    finally:
        probe.close()
    client = RegistrationClient(api, load_account(account_file, chain_id))
    try:
        client.sign_in()
        sha256 = client.upload(data, image.name)
        registration = client.apply(sha256, title, creator_name, relay=not wallet)
        status = registration["status"]
        if status == "audit_failed":
            raise RegisterError(EXIT_REFUSED, "the audit refused the registration:\n"
                                + "\n".join(_failed_checks(registration, "fail")))
        if status == "in_review":
            return EXIT_REVIEW, registration
        if registration.get("problem") and status != "minting":
            raise RegisterError(EXIT_UNAVAILABLE, f"the registration {registration['id']} stopped at {status}: "
                                f"{registration['problem']}")
        if wallet and status == "published":
            registration = client.send_from_wallet(registration, rpc_url)
        registration = client.wait_minted(registration["id"], timeout_s)
        return (EXIT_MINTED if registration["status"] == "minted" else EXIT_PENDING), registration
    finally:
        client.close()


@click.command()
@click.argument("image", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--title", required=True, help="The image's title.")
@click.option("--creator-name", default="", help="The creator's name (compared with the image's metadata).")
@click.option("--account", "account_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Keystore JSON or hex key file of the wallet that will hold the certificate.")
@click.option("--api", default=None, help="The Tracemark API (default: TRACEMARK_PUBLIC_URL or the local API).")
@click.option("--wallet", is_flag=True, help="Send the transaction from the account instead of the relayer.")
@click.option("--rpc", "rpc_url", default=None, help="JSON-RPC endpoint for --wallet (default: TRACEMARK_RPC_URL).")
@click.option("--timeout", "timeout_s", default=120.0, show_default=True, help="Seconds to wait for the mint.")
@click.option("--json", "as_json", is_flag=True, help="Print the registration as JSON.")
def register(image: Path, title: str, creator_name: str, account_file: Path | None, api: str | None, wallet: bool,
             rpc_url: str | None, timeout_s: float, as_json: bool) -> None:
    """Register IMAGE: sign in, upload, audit, pin, attest and mint, through the running API."""
    settings = get_settings()
    try:
        code, registration = run_registration(image, title, creator_name, account_file, api or public_url(settings),
                                               wallet, rpc_url or settings.rpc_url, timeout_s)
    except RegisterError as exc:
        if as_json:
            click.echo(json.dumps({"error": str(exc)}))
        else:
            click.echo(f"error: {exc}", err=True)
        sys.exit(exc.code)
    if as_json:
        click.echo(json.dumps(registration, indent=2))
        sys.exit(code)
    if code == EXIT_REVIEW:
        click.echo(f"registration {registration['id']} is in review: a caseworker decides before anything is minted")
        for line in _failed_checks(registration, "review"):
            click.echo(line)
        click.echo(f"follow it: GET /v1/registrations/{registration['id']}")
    elif code == EXIT_MINTED:
        click.echo(f"registered  {image}")
        click.echo(f"certificate {registration['certificate_id']} ({'0x' + registration['original']})")
        click.echo(f"holder      {registration['owner']}")
        click.echo(f"transaction {registration['tx_hash']}")
        click.echo(f"metadata    {registration['metadata_cid']} ({registration['metadata_uri']})")
    else:
        click.echo(f"registration {registration['id']} is {registration['status']}; not minted yet "
                   f"(transaction {registration['tx_hash']}); follow it: GET /v1/registrations/{registration['id']}")
    sys.exit(code)
