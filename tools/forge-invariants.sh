#!/usr/bin/env bash
# Stateful invariant tests of the licence market and certificate transfers (tests/contracts/invariant), run by
# forge offline through the repo's solc wrapper. Prints one line per invariant, the stateful calls made in all,
# the time taken, and what the handler did in the last run of one campaign.
#
#   tools/forge-invariants.sh                      # the campaign of foundry.toml ([invariant] runs x depth)
#   tools/forge-invariants.sh --mt invariant_casesSettleOnce
#   FOUNDRY_INVARIANT_RUNS=2000 FOUNDRY_INVARIANT_DEPTH=500 tools/forge-invariants.sh   # a soak (make soak)
#
# Without arguments the run must make at least FORGE_MIN_CALLS (10,000) stateful calls in all, so that lowering
# runs or depth in foundry.toml cannot quietly weaken `make test`. On a failure the whole forge output is printed,
# with the shrunk call sequence.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
min_calls="${FORGE_MIN_CALLS:-10000}"

if ! command -v forge >/dev/null 2>&1; then
    echo "forge-invariants: no forge on PATH; npm ci installs @foundry-rs/forge-linux-amd64" >&2
    exit 1
fi
# These two settings keep forge off the network: the solc wrapper (so svm never downloads a compiler) and
# offline mode (no signature or release lookups).
if ! grep -Eq '^solc = "tools/solc/solc-v0\.8\.28"' foundry.toml || ! grep -Eq '^offline = true' foundry.toml; then
    echo "forge-invariants: foundry.toml must set solc = \"tools/solc/solc-v0.8.28\" and offline = true" >&2
    exit 1
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
start=$SECONDS
status=0
forge test --offline -vv "$@" >"$log" 2>&1 || status=$?
elapsed=$((SECONDS - start))

if [ "$status" -ne 0 ] || ! grep -q '^\[PASS\]' "$log"; then
    cat "$log"
    echo "forge-invariants: FAILED (forge exit $status) after ${elapsed}s" >&2
    exit 1
fi

grep -E '^(Compiling|Solc .* finished|No files changed)' "$log" || true
grep -E '^\[(PASS|FAIL)' "$log"
passed="$(grep -cE '^\[PASS\]' "$log")"
calls="$(grep -oE 'calls: [0-9]+' "$log" | awk '{ total += $2 } END { print total + 0 }')"

# The handler's counters from afterInvariant ("<action> ok N" / "<action> refused N"), as "action ok/refused".
echo "handler actions in the last run of the first campaign (succeeded/refused as predicted):"
awk '/^Logs:/ { inside = 1; next } inside && !/^  / { exit } inside { print }' "$log" |
    awk '{ count[$1 " " $2] = $3; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
         END { line = " "; for (i = 1; i <= n; i++) { a = order[i]; line = line sprintf(" %s %d/%d", a, count[a " ok"], count[a " refused"]) } print line }' |
    fold -s -w 110

echo "forge-invariants: ${passed} invariants passed, ${calls} stateful calls in all, ${elapsed}s"
if [ "$#" -eq 0 ] && [ "$calls" -lt "$min_calls" ]; then
    echo "forge-invariants: fewer than ${min_calls} stateful calls; raise [invariant] runs or depth in foundry.toml" >&2
    exit 1
fi
