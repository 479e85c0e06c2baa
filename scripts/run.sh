#!/usr/bin/env bash
# Sets up and runs Roster on its embedded default: installs the build
# dependencies if missing, then `roster serve` (SQLite in ./roster.db,
# listening on 127.0.0.1:8080). Extra arguments go to `roster serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/packages.sh
ensure_packages "${BUILD_PACKAGES[@]}"
exec cargo run --release -- serve "$@"
