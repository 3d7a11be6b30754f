// The clearing portal's "pay with the wallet in this browser" (progressive enhancement of the no-script form).
// With an EIP-1193 wallet (window.ethereum): ask for the account, fetch a quote for it from this server (which
// returns the EIP-2612 permit to sign and the ready `settleClaimWithPermit` calldata), have the wallet sign the
// permit (eth_signTypedData_v4), put the signature into the calldata and send one transaction. Every text shown
// comes translated from the page (data-* attributes); nothing is written as HTML.
(function () {
  "use strict";
  var box = document.getElementById("wallet-pay");
  var eth = window.ethereum;
  if (!box || !eth || typeof eth.request !== "function") { return; }
  var button = box.querySelector("button");
  var out = box.querySelector("output");
  var hash = box.querySelector("code");
  box.hidden = false;

  function say(key, detail) {
    out.textContent = box.dataset[key] + (detail ? " " + detail : "");
    out.dataset.state = key;
  }

  function word(hex) { return ("0".repeat(64) + hex).slice(-64); }

  function withPermit(tx, signature) {
    var sig = signature.replace(/^0x/, "");
    if (!/^[0-9a-fA-F]{130}$/.test(sig)) { throw new Error("the wallet returned no 65-byte signature"); }
    var v = parseInt(sig.slice(128, 130), 16);
    if (v < 27) { v += 27; }
    var data = tx.data;
    var parts = [[tx.r_at, sig.slice(0, 64)], [tx.s_at, sig.slice(64, 128)], [tx.v_at, word(v.toString(16))]];
    parts.forEach(function (p) { data = data.slice(0, p[0]) + p[1] + data.slice(p[0] + 64); });
    return data;
  }

  function failure(error) {
    var code = error && error.code;
    var text = String((error && (error.message || (error.data && error.data.message))) || error || "");
    if (code === 4001 || /user (rejected|denied)/i.test(text)) { return say("msgRejected"); }
    if (code === 4901 || code === 4900) { return say("msgChain"); }
    if (/InsufficientBalance|insufficient/i.test(text)) { return say("msgFunds"); }
    return say("msgFailed", text.slice(0, 300));
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    hash.textContent = "";
    var payer;
    var quote;
    say("msgWait");
    eth.request({ method: "eth_requestAccounts" }).then(function (accounts) {
      if (!accounts || !accounts.length) { throw new Error("no account"); }
      payer = accounts[0];
      return fetch(box.dataset.quote, {
        method: "POST", credentials: "omit", cache: "no-store", redirect: "error",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: "payer=" + encodeURIComponent(payer)
      });
    }).then(function (response) {
      if (response.status === 409) { say("msgNothing"); return null; }
      if (!response.ok) { say("msgUnavailable"); return null; }
      return response.json();
    }).then(function (answer) {
      if (!answer) { return null; }
      quote = answer;
      return eth.request({ method: "eth_chainId" }).then(function (chain) {
        if (parseInt(chain, 16) !== quote.chain_id) { say("msgChain"); return null; }
        if (!quote.sufficient) { say("msgFunds"); return null; }
        say("msgSign");
        return eth.request({ method: "eth_signTypedData_v4", params: [payer, quote.permit] });
      });
    }).then(function (signature) {
      if (!signature) { return null; }
      say("msgSend");
      return eth.request({
        method: "eth_sendTransaction",
        params: [{ from: payer, to: quote.tx.to, data: withPermit(quote.tx, signature) }]
      });
    }).then(function (txHash) {
      if (!txHash) { return; }
      say("msgSent");
      hash.textContent = String(txHash);
    }).catch(failure).then(function () { button.disabled = false; });
  });
}());
