#!/usr/bin/env bash
# Installs the packages scripts/package.sh built, as an operator would, and
# checks them: the installed server starts as its service user from the
# shipped settings and answers; the node package's agent and
# authorized-keys run; the units pass systemd-analyze verify; removal and
# purge leave no binary, unit or setting behind (the data stays); the RPMs
# list the files they install. Needs root (or sudo) for dpkg.
set -euo pipefail
cd "$(dirname "$0")/../.."

SUDO=""
AS_ROSTER=(runuser -u roster --)
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
    AS_ROSTER=(sudo -u roster)
fi
PKGS=target/packages
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
ARCH=$(dpkg --print-architecture)
DEB_SERVER="$PKGS/roster_${VERSION}-1_${ARCH}.deb"
DEB_NODE="$PKGS/roster-node_${VERSION}-1_${ARCH}.deb"
fail() { echo "packaging check failed: $*" >&2; exit 1; }
# verify UNIT...: systemd-analyze verify, whose warnings (an unknown or
# misspelt setting is only "ignoring") count as failures too.
verify() {
    local out
    out=$($SUDO systemd-analyze verify "$@" 2>&1) || { echo "$out" >&2; fail "systemd-analyze verify $*"; }
    [ -z "$out" ] || { echo "$out" >&2; fail "systemd-analyze verify $* warned"; }
}

for p in roster roster-node; do
    if dpkg -s "$p" >/dev/null 2>&1; then
        fail "$p is already installed on this machine; this check installs and removes it (dpkg --purge $p first)"
    fi
done
SERVER_PID=""
DATA=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    $SUDO dpkg --purge roster roster-node >/dev/null 2>&1 || true
    [ -n "$DATA" ] && $SUDO rm -rf "$DATA"
}
trap cleanup EXIT

echo "-- the server package: install"
$SUDO dpkg -i "$DEB_SERVER" >/dev/null
[ "$(/usr/bin/roster --version)" = "roster $VERSION" ] || fail "installed roster --version"
getent passwd roster >/dev/null || fail "the roster service user was not created"
for f in /usr/lib/systemd/system/roster.service /usr/lib/systemd/system/roster-agent.service \
    /etc/roster/roster.env /etc/roster/agent.env; do
    [ -f "$f" ] || fail "$f not installed"
done

echo "-- the units: systemd-analyze verify"
# verify loads each unit with its binary and users; it fails on unknown
# settings, a missing ExecStart binary and bad sandboxing directives.
verify /usr/lib/systemd/system/roster.service /usr/lib/systemd/system/roster-agent.service

echo "-- the installed server, as its service user, from the shipped settings"
DATA=$(mktemp -d /tmp/roster-package-check.XXXXXX)
$SUDO chown roster:roster "$DATA"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The unit's command line: the shipped environment file, the state
# directory's database, the service user (ROSTER_LISTEN moved to a free port).
(
    set -a
    . /etc/roster/roster.env
    set +a
    [ "$ROSTER_LISTEN" = "127.0.0.1:8080" ] || fail "the shipped settings do not listen on loopback: $ROSTER_LISTEN"
    cd "$DATA"
    exec "${AS_ROSTER[@]}" env ROSTER_LISTEN="127.0.0.1:$PORT" ROSTER_DATABASE="sqlite://$DATA/roster.db" \
        /usr/bin/roster serve
) >"$DATA.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$DATA.log" >&2; fail "the installed server did not answer"; }
[ "$($SUDO stat -c %U "$DATA/roster.db")" = roster ] || fail "the database is not the service user's"
"${AS_ROSTER[@]}" /usr/bin/roster --database "sqlite://$DATA/roster.db" org create packaged >/dev/null
"${AS_ROSTER[@]}" /usr/bin/roster --database "sqlite://$DATA/roster.db" org list | grep -q packaged \
    || fail "the installed CLI did not see the org it created"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
rm -f "$DATA.log"

echo "-- remove, then purge"
$SUDO dpkg -r roster >/dev/null
[ ! -e /usr/bin/roster ] || fail "dpkg -r left /usr/bin/roster"
[ ! -e /usr/lib/systemd/system/roster.service ] || fail "dpkg -r left the unit"
[ -f /etc/roster/roster.env ] || fail "dpkg -r removed the settings (only purge should)"
$SUDO dpkg --purge roster >/dev/null
[ ! -e /etc/roster ] || fail "dpkg --purge left /etc/roster"
dpkg -s roster >/dev/null 2>&1 && fail "roster still installed after purge"

echo "-- the node package: install, run, purge"
$SUDO dpkg -i "$DEB_NODE" >/dev/null
if ldd /usr/bin/roster | grep -Eq 'libxmlsec1|libxml2'; then fail "the node package links libxmlsec1"; fi
/usr/bin/roster agent --help | grep -q -- '--token-file' || fail "installed agent --help"
/usr/bin/roster authorized-keys nobody --cache /dev/null
verify /usr/lib/systemd/system/roster-agent.service
[ ! -e /usr/lib/systemd/system/roster.service ] || fail "the node package ships the server's unit"
$SUDO dpkg --purge roster-node >/dev/null
[ ! -e /usr/bin/roster ] && [ ! -e /etc/roster ] || fail "purging roster-node left files"

echo "-- the RPMs"
for pkg in roster roster-node; do
    rpm_file="$PKGS/$pkg-$VERSION-1.$(uname -m).rpm"
    files=$(rpm -qpl "$rpm_file" 2>/dev/null)
    echo "$files" | sed "s/^/   $pkg: /"
    echo "$files" | grep -qx /usr/bin/roster || fail "$rpm_file has no /usr/bin/roster"
    echo "$files" | grep -qx /usr/lib/systemd/system/roster-agent.service || fail "$rpm_file has no agent unit"
    if [ "$pkg" = roster ]; then
        echo "$files" | grep -qx /usr/lib/systemd/system/roster.service || fail "$rpm_file has no server unit"
        rpm -qpR "$rpm_file" 2>/dev/null | grep -q 'libxmlsec1-openssl.so' || fail "$rpm_file does not require libxmlsec1-openssl"
    else
        echo "$files" | grep -qx /usr/lib/systemd/system/roster.service && fail "$rpm_file ships the server's unit"
    fi
    rpm -qpc "$rpm_file" 2>/dev/null | grep -qx /etc/roster/agent.env || fail "$rpm_file: agent.env is not a config file"
done
echo "packages OK"
