#!/usr/bin/env bash
# Builds Roster's packages into target/packages:
#   roster        the server build (SAML signatures through libxmlsec1): the
#                 server, the CLI, the agent; units for roster serve and agent
#   roster-node   the node build (no SAML, needs only OpenSSL): roster agent
#                 and roster authorized-keys, the agent's unit
# each as a Debian package (dpkg-deb, dependencies from dpkg-shlibdeps) and
# an RPM (rpmbuild, dependencies from the binaries' ELF needs). Binaries are
# linked against the build machine's C library: build the RPMs on the
# RHEL/Rocky release they are for (the same command; it needs rpm-build).
#
#   scripts/package.sh            build both binaries (release), then package
#   scripts/package.sh --no-build package the binaries already built
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
[ "${1:-}" = "--no-build" ] && build=""

VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
RELEASE=1
OUT=target/packages
WORK=target/packaging
SERVER_BIN=target/release/roster
NODE_BIN=target/node/release/roster

if [ -n "$build" ]; then
    # Both builds share target/release, so the dependencies they have in
    # common are compiled once (a target directory of its own made the node
    # build compile them all again: minutes). The node build goes first and
    # is copied aside; the server build then leaves target/release/roster
    # as the server's, as `cargo build --release` would.
    cargo build --release --quiet --no-default-features --bin roster
    mkdir -p "$(dirname "$NODE_BIN")"
    cp target/release/roster "$NODE_BIN"
    cargo build --release --quiet --bin roster
fi
for b in "$SERVER_BIN" "$NODE_BIN"; do
    [ -x "$b" ] || { echo "missing $b: run without --no-build" >&2; exit 1; }
done
for tool in dpkg-deb dpkg-shlibdeps rpmbuild; do
    command -v "$tool" >/dev/null || { echo "$tool is needed (Debian: apt-get install dpkg-dev rpm)" >&2; exit 1; }
done

rm -rf "$OUT" "$WORK"
mkdir -p "$OUT" "$WORK"

# stage PKG BINARY SERVER(1|"") DIR: the files the package installs.
stage() {
    local pkg=$1 bin=$2 server=$3 root=$4
    install -D -m 0755 "$bin" "$root/usr/bin/roster"
    # Debug information stays in the build tree (a tenth of the size).
    objcopy --strip-debug "$root/usr/bin/roster"
    install -D -m 0644 packaging/systemd/roster-agent.service "$root/usr/lib/systemd/system/roster-agent.service"
    install -D -m 0600 packaging/etc/agent.env "$root/etc/roster/agent.env"
    local docs=(README.md docs/agent.md docs/operations.md docs/security.md)
    if [ -n "$server" ]; then
        install -D -m 0644 packaging/systemd/roster.service "$root/usr/lib/systemd/system/roster.service"
        install -D -m 0644 packaging/sysusers/roster.conf "$root/usr/lib/sysusers.d/roster.conf"
        install -D -m 0644 packaging/etc/roster.env "$root/etc/roster/roster.env"
        docs+=(docs/*.md)
    fi
    mkdir -p "$root/usr/share/doc/$pkg"
    install -m 0644 $(printf '%s\n' "${docs[@]}" | sort -u) "$root/usr/share/doc/$pkg/"
    printf 'Roster %s\nLicense: Apache-2.0 (https://www.apache.org/licenses/LICENSE-2.0)\n' "$VERSION" \
        > "$root/usr/share/doc/$pkg/copyright"
}

# deb PKG BINARY SERVER
deb() {
    local pkg=$1 bin=$2 server=$3
    local root="$WORK/deb-$pkg" other=roster-node summary
    [ -z "$server" ] && other=roster
    stage "$pkg" "$bin" "$server" "$root"
    if [ -n "$server" ]; then
        summary="identity server for Slurm clusters: SCIM, SAML, POSIX identities, NSS maps"
    else
        summary="node agent of Roster: NSS caches, Slurm accounts, SSH keys for sshd"
    fi
    # dpkg-shlibdeps reads the package's shared-library needs off the binary.
    mkdir -p "$WORK/shlibs-$pkg/debian"
    printf 'Source: roster\n\nPackage: %s\nArchitecture: any\n' "$pkg" > "$WORK/shlibs-$pkg/debian/control"
    local depends
    depends=$(cd "$WORK/shlibs-$pkg" && dpkg-shlibdeps -O "$OLDPWD/$root/usr/bin/roster" 2>/dev/null \
        | sed -n 's/^shlibs:Depends=//p')
    mkdir -p "$root/DEBIAN"
    cat > "$root/DEBIAN/control" <<CONTROL
Package: $pkg
Version: $VERSION-$RELEASE
Architecture: $(dpkg --print-architecture)
Maintainer: Roster developers <roster@localhost>
Section: admin
Priority: optional
Depends: $depends
Recommends: libnss-cache
Conflicts: $other
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Description: $summary
 Roster receives users and groups from an identity provider (Okta, Entra ID)
 over SCIM 2.0, gives every person a stable POSIX identity and their SSH
 keys, and provisions them onto Slurm clusters through NSS caches
 (nsscache, libnss-cache) and sacctmgr.
CONTROL
    (cd "$root" && find etc -type f -printf '/%p\n') > "$root/DEBIAN/conffiles"
    for script in postinst prerm postrm; do
        sed "s/@SERVER@/${server:-0}/" "packaging/deb/$script" > "$root/DEBIAN/$script"
        chmod 0755 "$root/DEBIAN/$script"
    done
    dpkg-deb --root-owner-group -Zxz --build "$root" "$OUT/${pkg}_${VERSION}-${RELEASE}_$(dpkg --print-architecture).deb" >/dev/null
}

# rpm PKG BINARY SERVER
rpm_pkg() {
    local pkg=$1 bin=$2 server=$3
    local root="$WORK/rpm-$pkg"
    stage "$pkg" "$bin" "$server" "$root"
    # The file list, with each file's owner, mode and config status.
    (cd "$root" && find . -type f | sed 's|^\.||' | sort) | while read -r f; do
        case "$f" in
            /etc/*) echo "%config(noreplace) %attr($(stat -c %a "$root$f"),root,root) $f" ;;
            *) echo "%attr($(stat -c %a "$root$f"),root,root) $f" ;;
        esac
    done > "$WORK/rpm-$pkg.files"
    echo "%dir %attr(0755,root,root) /etc/roster" >> "$WORK/rpm-$pkg.files"
    rpmbuild -bb --quiet \
        --define "_topdir $PWD/$WORK/rpmbuild" \
        --define "_rpmdir $PWD/$OUT" \
        --define "_build_id_links none" \
        --define "pkg $pkg" \
        --define "pkgversion $VERSION" \
        --define "pkgrelease $RELEASE" \
        --define "stage $PWD/$root" \
        --define "filelist $PWD/$WORK/rpm-$pkg.files" \
        --define "server ${server:-0}" \
        packaging/rpm/roster.spec
}

deb roster "$SERVER_BIN" 1
deb roster-node "$NODE_BIN" ""
rpm_pkg roster "$SERVER_BIN" 1
rpm_pkg roster-node "$NODE_BIN" ""
find "$OUT" -name '*.rpm' -exec mv {} "$OUT/" \;
find "$OUT" -mindepth 1 -type d -empty -delete
ls -l "$OUT"
