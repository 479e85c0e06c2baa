#!/usr/bin/env bash
# Fuzzes the parsers that take client input (SCIM filters, PATCH paths and
# requests, SAML responses and IdP metadata) with libFuzzer through
# cargo-fuzz, each for a bounded time: FUZZ_SECONDS (default 20) per
# target. A crash, a panic or an assertion of a target fails the run and
# leaves the input under fuzz/artifacts/. The corpus grows in
# target/fuzz-corpus/ between runs on one machine. FUZZ_BUILD=dev builds
# without optimizations (faster to build, slower to run, overflow checks
# on); the default is an optimized build.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${FUZZ_SECONDS:-20}
CARGO_FUZZ_VERSION=0.13.1

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    echo "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

# cargo-fuzz passes -Z flags (sanitizers, coverage); the stable toolchain
# accepts them with RUSTC_BOOTSTRAP=1.
export RUSTC_BOOTSTRAP=1
cd fuzz
targets=$(cargo fuzz list)
case "${FUZZ_BUILD:-release}" in
release) profile=--release ;;
dev)
    profile=--dev
    # Line tables are enough for a crash's backtrace, and link faster.
    export CARGO_PROFILE_DEV_DEBUG=line-tables-only
    ;;
*) echo "FUZZ_BUILD is release or dev, not ${FUZZ_BUILD}" >&2; exit 2 ;;
esac
cargo fuzz build "$profile" >/dev/null
for target in $targets; do
    corpus="../target/fuzz-corpus/$target"
    mkdir -p "$corpus"
    rm -rf "artifacts/$target"
    log="../target/fuzz-corpus/$target.log"
    echo "fuzzing $target for ${SECONDS_PER_TARGET}s"
    if ! cargo fuzz run "$profile" "$target" "$corpus" -- \
        -max_total_time="$SECONDS_PER_TARGET" -max_len=16384 -print_final_stats=1 >"$log" 2>&1; then
        tail -40 "$log" >&2
        echo "fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E '^stat::number_of_executed_units' "$log" || true
done
echo "fuzzing: no target failed"
