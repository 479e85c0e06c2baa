#!/usr/bin/env bash
# Runs the PyPI conformance suite scim2-tester (through scim2-cli) against
# a real `roster serve` on a random loopback port with a throw-away
# database. Every check must pass: a SKIPPED check is accepted only for a
# feature ServiceProviderConfig declares unsupported (bulk), and no check
# is left out today.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=target/conformance-venv
SCIM2_CLI_VERSION=0.6.0
SCIM2_TESTER_VERSION=0.5.2

if ! "$VENV/bin/python" -c "import scim2_tester" 2>/dev/null; then
    if ! python3 -m venv "$VENV" 2>/dev/null; then
        echo "python3 venv is missing; installing python3-venv" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "scim2-cli==$SCIM2_CLI_VERSION" "scim2-tester==$SCIM2_TESTER_VERSION"
fi

cargo build --quiet --bin roster
ROSTER=target/debug/roster
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

export ROSTER_DATABASE="sqlite://$WORK/roster.db"
$ROSTER org create conformance >/dev/null 2>&1
$ROSTER org set conformance --scim-api on --aup on >/dev/null
TOKEN=$($ROSTER token create conformance --name scim2-tester 2>/dev/null)

$ROSTER serve --listen 127.0.0.1:0 2>"$WORK/server.log" &
SERVER_PID=$!
ADDR=
for _ in $(seq 1 100); do
    ADDR=$(grep -o 'listening on http://[0-9.:]*' "$WORK/server.log" | head -1 | sed 's|listening on http://||') || true
    [ -n "$ADDR" ] && break
    sleep 0.1
done
if [ -z "$ADDR" ]; then
    echo "roster serve did not start:" >&2
    cat "$WORK/server.log" >&2
    exit 1
fi

SCIM_CLI_HEADERS="Authorization: Bearer $TOKEN" \
    "$VENV/bin/scim2" --url "http://$ADDR/scim/conformance" test >"$WORK/result.txt" 2>&1 || true

passed=$(grep -c '^SUCCESS' "$WORK/result.txt" || true)
failed=$(grep -cE '^(ERROR|CRITICAL)' "$WORK/result.txt" || true)
skipped=$(grep -c '^SKIPPED' "$WORK/result.txt" || true)
if [ "$failed" -gt 0 ] || [ "$skipped" -gt 0 ] || [ "$passed" -lt 100 ]; then
    grep -E '^(ERROR|CRITICAL|SKIPPED)' -A3 "$WORK/result.txt" >&2 || tail -50 "$WORK/result.txt" >&2
    echo "scim2-tester: $passed passed, $failed failed, $skipped skipped" >&2
    exit 1
fi
echo "scim2-tester: $passed passed, $failed failed"
