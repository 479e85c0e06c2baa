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

step "system packages the tests drive (libnss-cache, sshd, ssh-keygen, Slurm accounting, MariaDB, munge)"
need=()
dpkg -s libnss-cache >/dev/null 2>&1 || need+=(libnss-cache)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
# The agent's Slurm test starts a real accounting stack (tests/slurm/stack.sh).
for p in slurmdbd slurm-client mariadb-server munge; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    apt-get update -qq
    # An apt hook on these machines can remove downloaded packages between
    # runs: retry the install once.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null \
        || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

step "unit, property and integration tests (the load benchmark is separate: cargo bench --bench load)"
cargo test --lib --bins --tests

step "SCIM conformance (scim2-tester)"
scripts/conformance.sh
