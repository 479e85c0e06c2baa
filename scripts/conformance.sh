#!/usr/bin/env bash
# Runs the PyPI conformance suite scim2-tester (through scim2-cli) against
# a real `roster serve` on a random loopback port with a throw-away
# database, twice: with SUNK User Provisioning off and on. Every check
# must pass, but those tests/conformance/judge.py leaves out by name, each
# with the reason (with SUP on, the tester sends random values for the
# CoreWeave extension that Roster refuses, docs/scim.md).
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

# run_suite ORG SUP: the whole suite against a fresh org with SUNK User
# Provisioning on or off; judged by tests/conformance/judge.py.
run_suite() {
    local org=$1 sup=$2
    $ROSTER org create "$org" >/dev/null 2>&1
    $ROSTER org set "$org" --scim-api on --aup on --sup "$sup" >/dev/null
    local token
    token=$($ROSTER token create "$org" --name scim2-tester 2>/dev/null)
    SCIM_CLI_HEADERS="Authorization: Bearer $token" \
        "$VENV/bin/scim2" --url "http://$ADDR/scim/$org" test >"$WORK/$org.txt" 2>&1 || true
    python3 tests/conformance/judge.py --sup "$sup" "$WORK/$org.txt"
}

run_suite conformance off
run_suite conformance-sup on
