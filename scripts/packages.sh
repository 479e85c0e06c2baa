# Sourced by scripts/run.sh and scripts/test.sh: installs Debian packages
# that are missing, in one apt run.

# What building roster needs beyond the Rust toolchain: samael verifies
# SAML signatures through libxmlsec1 (OpenSSL) and generates its bindings
# with bindgen, which needs libclang.
BUILD_PACKAGES=(pkg-config libssl-dev libxml2-dev libxmlsec1-dev libclang-dev)

# ensure_packages PKG...: installs those not yet installed.
ensure_packages() {
    local need=()
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
    done
    if [ ${#need[@]} -gt 0 ]; then
        echo "installing: ${need[*]}"
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq
        # An apt hook on these machines can remove downloaded packages
        # between runs: retry the install once.
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null \
            || DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
    fi
}
