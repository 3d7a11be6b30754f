"""The clearing portal in a real headless Chromium (Debian's, driven by Playwright), against the API on a real uvicorn
server and a real anvil with the indexer: the recipient opens the letter's link, sees the registered image and the
copy found side by side (both loaded), shows a licence document through the form (stored, and shown in the history),
and pays with the page's button through an EIP-1193 wallet injected into the page, which forwards to anvil's unlocked
account (a permit signed with eth_signTypedData_v4, one settleClaimWithPermit sent). The indexer confirms it, the case
closes as settled and the CPY split is 70/30 to the last unit. Before that, a wallet on another chain, an account
without enough CPY and a user who declines in the wallet each get a clear message, and nothing changes. The page's
CSP stays on throughout (no bypass): the provider reaches Python through a Playwright binding, which the CSP does not
govern."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.backend.chainops import CPY, GAS
from tests.backend.e2e.conftest import CHROMIUM_FLAGS, serve
from tests.backend.integration.cases.test_portal import path_of
from tests.backend.integration.cases.test_portal_media import media_case
from tests.backend.integration.cases.test_service import World
from tests.backend.integration.cases.test_service import world as service_world  # noqa: F401 - the fixture
from tests.backend.integration.cases.test_settlement import balance, settling_service
from tests.backend.integration.indexer.conftest import DeployedState
from tests.backend.integration.registration.support import make_app
from tracemark.cases.workflow import CaseState

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("any_database", ["sqlite"], indirect=True)]

#: The wallet the page finds: `window.ethereum.request` hands every call to the Python binding `tracemarkWallet`.
PROVIDER = """
window.ethereum = {
  isTracemarkTestWallet: true,
  request: async function (args) {
    const answer = JSON.parse(await window.tracemarkWallet(JSON.stringify(args)));
    if (answer.error) {
      const error = new Error(answer.error.message);
      error.code = answer.error.code;
      throw error;
    }
    return answer.result;
  }
};
"""


def until(page: Any, expression: str, timeout_s: float = 15) -> None:
    """Polls a JavaScript expression until it is true (Playwright's `wait_for_function` evaluates a string in the
    page, which the page's CSP rightly forbids; `evaluate` goes through the DevTools protocol)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"never true: {expression}")
        time.sleep(0.05)


@pytest.fixture
def w(service_world: World) -> World:  # noqa: F811 - the imported fixture, by its name
    """The cases' world of test_service: a deployed anvil, indexed, with sightings, an SMTP server, a database."""
    return service_world


class Wallet:
    """An EIP-1193 wallet for the page, backed by anvil's unlocked account `account`; it can decline, or claim to be
    on another chain, as a user's wallet would."""

    def __init__(self, rpc_url: str, account: str) -> None:
        self.rpc_url, self.account = rpc_url, account
        self.calls: list[str] = []
        self.decline = False
        self.chain_id: str | None = None  # None: anvil's

    def __call__(self, payload: str) -> str:
        args: dict[str, Any] = json.loads(payload)
        method, params = str(args["method"]), list(args.get("params") or [])
        self.calls.append(method)
        if method in ("eth_requestAccounts", "eth_accounts"):
            return json.dumps({"result": [self.account]})
        if method == "eth_chainId" and self.chain_id is not None:
            return json.dumps({"result": self.chain_id})
        if self.decline and method in ("eth_signTypedData_v4", "eth_sendTransaction"):
            return json.dumps({"error": {"code": 4001, "message": "User rejected the request."}})
        answer = httpx.post(self.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
                            timeout=30).json()
        return json.dumps({"result": answer["result"]} if "error" not in answer else {"error": answer["error"]})


def test_the_recipient_sees_both_images_shows_a_licence_and_pays_in_the_browser(
        chromium_path: Path, w: World, deployed_state: DeployedState, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    svc = settling_service(w)
    mc = media_case(w, svc, tmp_path)
    payer = w.chain.users[3]
    w.chain._queue(w.chain.treasury, w.chain.cpy.address, w.chain.cpy.encode_abi("transfer", args=[payer, 100 * CPY]),
                   GAS["cpy"])  # CPY, and no allowance: the permit is what pays
    hashes = w.chain.flush()
    w.chain.mine()
    assert w.chain.receipts_ok(hashes) == 1
    url = w.database.engine.url.render_as_string(hide_password=False)
    app = make_app(tmp_path, rpc_url=w.chain.url, deployments_dir=deployed_state.deployments_dir, database_url=url)
    app.state.cases_clock = w.clock
    wallet = Wallet(w.chain.url, payer)
    holder0, treasury0, payer0 = balance(w, w.alice), balance(w, w.chain.treasury), balance(w, payer)

    with serve(app) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            page.expose_function("tracemarkWallet", wallet)
            page.add_init_script(PROVIDER)
            link = base + path_of(mc.link)
            page.goto(link)
            assert page.title() == "Ihr Fall zu shop.example.de"

            # both images, loaded from our own routes
            until(page, "['registered', 'found'].every(id => document.getElementById(id).complete)")
            widths = page.evaluate("['registered', 'found'].map(id => document.getElementById(id).naturalWidth)")
            assert widths == [384, 420]  # the 384-px preview; the 420-px crop found on the site
            assert "Horizontal gespiegelt." in page.inner_text("#edits")
            wallet_box = page.locator("#wallet-pay")
            assert wallet_box.is_visible()  # the script found the wallet and showed the button
            out = page.locator("#wallet-pay output")

            # a wallet on another chain: told so, nothing asked to be signed
            wallet.chain_id = "0x1"
            page.click("#wallet-pay button")
            page.locator("#wallet-pay output[data-state=msgChain]").wait_for()
            assert "anderen Netzwerk" in out.inner_text()
            assert "eth_signTypedData_v4" not in wallet.calls
            # an account without enough CPY: told so before anything is signed
            wallet.chain_id, wallet.account = None, "0x" + "12" * 20
            page.click("#wallet-pay button")
            page.locator("#wallet-pay output[data-state=msgFunds]").wait_for()
            assert out.inner_text() == "Ihre Wallet enthält nicht genug CPY für diese Zahlung. Es wurde nichts bezahlt."
            assert "eth_signTypedData_v4" not in wallet.calls
            # the user declines in the wallet: told so, nothing sent, nothing changed
            wallet.account, wallet.decline = payer, True
            before = svc.any_case(mc.case_id).version
            page.click("#wallet-pay button")
            page.locator("#wallet-pay output[data-state=msgRejected]").wait_for()
            assert out.inner_text() == ("Sie haben in Ihrer Wallet abgelehnt. Es wurde nichts bezahlt und nichts "
                                        "geändert.")
            assert "eth_sendTransaction" not in wallet.calls
            assert page.inner_text("#wallet-pay code") == ""
            assert (balance(w, w.alice), balance(w, w.chain.treasury), balance(w, payer)) == (
                holder0, treasury0, payer0)
            assert svc.any_case(mc.case_id).version == before

            # a licence document through the form: stored, and shown in the history
            pdf = b"%PDF-1.4\n% a licence from the agency\n%%EOF\n"
            page.select_option("select[name=kind]", "licence")
            page.fill("textarea[name=statement]", "Licensed through PhotoAgency, invoice 17")
            page.set_input_files("input[name=document]",
                                 files=[{"name": "licence.pdf", "mimeType": "application/pdf", "buffer": pdf}])
            with page.expect_navigation():
                page.click("form[action$='/answer'] button[type=submit]")
            assert "Vielen Dank" in page.content()
            digest = hashlib.sha256(pdf).hexdigest()
            assert (tmp_path / "case-documents" / mc.case_id / f"{digest}.pdf").read_bytes() == pdf
            page.goto(link)
            history = page.inner_text("#history")
            assert "Licensed through PhotoAgency, invoice 17" in history and digest in history

            # pay: one permit signed, one transaction sent
            wallet.decline, wallet.calls = False, []
            page.locator("#wallet-pay").wait_for(state="visible")
            page.click("#wallet-pay button")
            page.locator("#wallet-pay output[data-state=msgSent]").wait_for(timeout=30_000)
            tx_hash = page.inner_text("#wallet-pay code")
            assert re.fullmatch(r"0x[0-9a-f]{64}", tx_hash), tx_hash
            assert wallet.calls == ["eth_requestAccounts", "eth_chainId", "eth_signTypedData_v4",
                                    "eth_sendTransaction"]
            assert not [m for m in console if "Content Security Policy" in m], console
        finally:
            browser.close()

    w.chain.mine(4)
    assert w.chain.receipts_ok([tx_hash]) == 1
    w.index()
    assert svc.close_settled() == [mc.case_id]
    assert svc.any_case(mc.case_id).state is CaseState.SETTLED
    assert balance(w, w.alice) - holder0 == 28 * CPY  # exactly 70 %
    assert balance(w, w.chain.treasury) - treasury0 == 12 * CPY  # exactly 30 %
    assert payer0 - balance(w, payer) == 40 * CPY
