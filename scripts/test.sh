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

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

step "unit, property and integration tests"
cargo test --all-targets

step "SCIM conformance (scim2-tester)"
scripts/conformance.sh
