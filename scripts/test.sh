#!/usr/bin/env bash
# Sets up and runs every test of Roster: formatting, lints, unit and
# property tests, the integration tests (the real server on random
# loopback ports), and the scim2-tester conformance suite against a running
# server. Installs what it needs; safe to run on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
cargo --version
rustup component list --installed 2>/dev/null | grep -qE '^(rustfmt|clippy)' || rustup component add rustfmt clippy

step "system packages: the build's, and those the tests drive (libnss-cache, sshd, Slurm accounting, MariaDB, munge, xmlsec1, Chromium)"
. scripts/packages.sh
# The agent's Slurm test starts a real accounting stack (tests/slurm/stack.sh);
# the SAML tests' IdP (pysaml2) signs with the xmlsec1 command, and a
# headless Chromium signs in through it as a person would.
ensure_packages "${BUILD_PACKAGES[@]}" libnss-cache openssh-client openssh-server util-linux \
    slurmdbd slurm-client mariadb-server munge xmlsec1 chromium

step "the SAML tests' identity provider: pysaml2 in target/saml-venv"
SAML_VENV=target/saml-venv
if ! "$SAML_VENV/bin/python" -c "import saml2" 2>/dev/null; then
    python3 -m venv "$SAML_VENV"
    "$SAML_VENV/bin/pip" install --quiet --disable-pip-version-check "pysaml2==7.5.5"
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

step "unit, property and integration tests (the load benchmark is separate: cargo bench --bench load)"
cargo test --lib --bins --tests

step "the node build: without SAML signatures, no libxmlsec1 or libxml2"
RUSTFLAGS="-D warnings" cargo build --quiet --no-default-features --bin roster --target-dir target/node
if ldd target/node/debug/roster | grep -Eq 'libxmlsec1|libxml2'; then
    echo "the node build links libxmlsec1 or libxml2:" >&2
    ldd target/node/debug/roster >&2
    exit 1
fi
target/node/debug/roster authorized-keys nobody --cache /dev/null
target/node/debug/roster agent --help >/dev/null

step "the hardening and hostile-input tests against a release build (overflow checks and stack use differ from debug)"
cargo build --release --quiet --bin roster
ROSTER_TEST_BIN="$PWD/target/release/roster" cargo test --quiet --test api -- hardening:: hostile_input::

step "SCIM conformance (scim2-tester), with SUNK User Provisioning off and on"
scripts/conformance.sh

step "fuzzing the parsers of client input (filters, PATCH, SAML), ${FUZZ_SECONDS:-30}s per target"
scripts/fuzz.sh
