#!/usr/bin/env bash
# Sets up and runs every test of Roster: formatting, lints, unit and
# property tests, the integration tests (the real server on random
# loopback ports), and the scim2-tester conformance suite against a running
# server. Installs what it needs; safe to run on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step says how long the one before it took, and the run its total,
# so that a slow step shows in CI's log (README: "about N minutes").
STARTED=$SECONDS
STEP_STARTED=$SECONDS
STEP_NAME=""
step_done() {
    [ -n "$STEP_NAME" ] && printf '    (%s: %ds)\n' "$STEP_NAME" $((SECONDS - STEP_STARTED))
    STEP_STARTED=$SECONDS
}
step() {
    step_done
    STEP_NAME="${1:0:60}"
    printf '\n==> %s\n' "$*"
}

step "toolchain"
cargo --version
rustup component list --installed 2>/dev/null | grep -qE '^(rustfmt|clippy)' || rustup component add rustfmt clippy

step "system packages: the build's, and those the tests drive (libnss-cache, sshd, Slurm accounting, MariaDB, munge, xmlsec1, Chromium and its WebDriver, the packaging tools)"
. scripts/packages.sh
# The agent's Slurm test starts a real accounting stack (tests/slurm/stack.sh);
# the SAML tests' IdP (pysaml2) signs with the xmlsec1 command, and a
# headless Chromium signs in through it as a person would; the console
# tests drive Chromium over WebDriver (chromium-driver).
ensure_packages "${BUILD_PACKAGES[@]}" libnss-cache openssh-client openssh-server util-linux \
    slurmdbd slurm-client mariadb-server munge xmlsec1 chromium chromium-driver \
    dpkg-dev rpm systemd curl binutils openssl

step "the SAML tests' identity provider: pysaml2 in target/saml-venv"
SAML_VENV=target/saml-venv
if ! "$SAML_VENV/bin/python" -c "import saml2" 2>/dev/null; then
    python3 -m venv "$SAML_VENV"
    "$SAML_VENV/bin/pip" install --quiet --disable-pip-version-check "pysaml2==7.5.5"
fi

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo

step "a throwaway PostgreSQL on loopback, for the store contract and the integration tests on PostgreSQL"
# Debian's package would start a system-wide server; tests run their own.
if ! dpkg -s postgresql >/dev/null 2>&1; then
    policy_rc=/usr/sbin/policy-rc.d
    made_policy=""
    if [ ! -e "$policy_rc" ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy_rc" >/dev/null
        $SUDO chmod +x "$policy_rc"
        made_policy=1
    fi
    ensure_packages postgresql
    if [ -n "$made_policy" ]; then $SUDO rm -f "$policy_rc"; fi
fi
# Its data under target/, when the postgres user can reach it there (a
# checkout under a private home directory it cannot): else under /tmp.
mkdir -p target
PG_DIR="$PWD/target/pg-test"
if ! { [ "$(id -u)" -eq 0 ] && runuser -u postgres -- test -x "$PWD/target"; } \
    && ! sudo -n -u postgres test -x "$PWD/target" 2>/dev/null; then
    PG_DIR=$(mktemp -d /tmp/roster-pg-test.XXXXXX)
fi
PG_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Without fsync: the tests kill Roster, never the machine, and fsync made
# the PostgreSQL run the test command's longest step.
ROSTER_TEST_POSTGRES_URL=$(PG_FSYNC=off tests/postgres/server.sh start "$PG_DIR" "$PG_PORT")
export ROSTER_TEST_POSTGRES_URL
trap 'tests/postgres/server.sh stop "$PG_DIR"' EXIT
echo "PostgreSQL on 127.0.0.1:$PG_PORT (data in $PG_DIR)"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

step "unit, property and integration tests on SQLite (the load benchmark is separate: cargo bench --bench load)"
cargo test --lib --bins --tests

step "the integration tests again, on PostgreSQL (every test; the store contract ran on both above)"
ROSTER_TEST_STORE=postgres cargo test --quiet --test api

step "packages: the server and node builds (release) as .deb and .rpm, installed, run, verified and removed"
# The node build has no SAML signatures, hence no libxmlsec1 or libxml2.
RUSTFLAGS="-D warnings" scripts/package.sh
if ldd target/node/release/roster | grep -Eq 'libxmlsec1|libxml2'; then
    echo "the node build links libxmlsec1 or libxml2:" >&2
    ldd target/node/release/roster >&2
    exit 1
fi
tests/packaging/check.sh

step "the hardening and hostile-input tests against the release build (overflow checks and stack use differ from debug)"
ROSTER_TEST_BIN="$PWD/target/release/roster" cargo test --quiet --test api -- hardening:: hostile_input::

step "SCIM conformance (scim2-tester), with SUNK User Provisioning off and on"
scripts/conformance.sh

step "fuzzing the parsers of client input (filters, PATCH, SAML), ${FUZZ_SECONDS:-20}s per target, unoptimized"
# An unoptimized build (overflow checks on) compiles in a third of the
# release build's time, the step's largest part; scripts/fuzz.sh alone
# builds optimized for longer runs.
FUZZ_BUILD=dev scripts/fuzz.sh
step_done
printf '\nall tests passed in %dm%02ds\n' $(((SECONDS - STARTED) / 60)) $(((SECONDS - STARTED) % 60))
