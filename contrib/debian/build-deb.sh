#!/bin/sh
# Builds dkim-milter_VERSION-REVISION_ARCH.deb in the current directory (or --output DIR):
#
#   contrib/debian/build-deb.sh [--revision N] [--output DIR] [--compression xz|gzip|zstd]
#
# (xz, Debian's usual, is the smallest and takes a minute here; the tests' second revision is zstd.)
# contrib/install.sh lays the files out (the release build, with Swift's runtime linked in, so
# the target needs no Swift), then this script adds what dpkg needs: the control file, whose
# Depends: is what dpkg-shlibdeps finds the two programs need and nothing else, the conffile
# list, the maintainer scripts of this folder, the copyright file and a changelog, and packs it
# with dpkg-deb. The version is MilterVersion.current; REVISION (default 1) tells rebuilds apart.
#
# Why not dpkg-buildpackage and a debian/ folder: Swift is not a Debian package, so the build
# dependencies cannot be declared (dpkg-buildpackage -d would skip the check anyway), and the
# files are the same ones contrib/install.sh installs elsewhere; the maintainer scripts are
# debhelper's steps written out, short enough to read, and the tests install, upgrade, remove
# and purge the package in a fresh Debian 12 root.
set -eu

revision=1
output=$(pwd)
compression=xz
while [ $# -gt 0 ]; do
    case "$1" in
        --revision) revision=${2:?}; shift 2 ;;
        --output) output=${2:?}; shift 2 ;;
        --compression) compression=${2:?}; shift 2 ;;
        *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    esac
done
case "$output" in /*) ;; *) output=$(pwd)/$output ;; esac

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
version=$(sed -n 's/.*static let current = "\(.*\)".*/\1/p' Sources/DKIMMilterCore/MilterVersion.swift)
[ -n "$version" ] || { echo "build-deb.sh: no version in MilterVersion.swift" >&2; exit 1; }
debversion=$version-$revision
arch=$(dpkg --print-architecture)
maintainer=${DEB_MAINTAINER:-$(git log -1 --format='%an <%ae>' 2>/dev/null || echo "dkim-milter maintainers <root@localhost>")}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH

stage=$repo/.build-deb/stage
rm -rf "$stage"
mkdir -p "$stage"
contrib/install.sh --destdir "$stage" /usr

doc=$stage/usr/share/doc/dkim-milter
install -m 0644 "$here/copyright" "$doc/copyright"
changes=$(mktemp)
trap 'rm -f "$changes"' EXIT
{
    echo "dkim-milter ($debversion) unstable; urgency=medium"
    echo
    echo "  * Built from commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown) of the dkim-milter repository."
    echo
    echo " -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} > "$changes"
gzip -9n < "$changes" > "$doc/changelog.Debian.gz"
chmod 0644 "$doc/changelog.Debian.gz"

# Depends: exactly the shared libraries the two programs load, as dpkg-shlibdeps names them.
shlibs=$(mktemp -d)
mkdir "$shlibs/debian"
printf 'Source: dkim-milter\n\nPackage: dkim-milter\nArchitecture: any\n' > "$shlibs/debian/control"
depends=$(cd "$shlibs" && dpkg-shlibdeps -O -e"$stage/usr/sbin/dkim-milter" -e"$stage/usr/bin/dkimkey" 2>/dev/null \
    | sed -n 's/^shlibs:Depends=//p')
rm -rf "$shlibs"
[ -n "$depends" ] || { echo "build-deb.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

mkdir -p "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<EOF
Package: dkim-milter
Version: $debversion
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: $depends
Section: mail
Priority: optional
Description: DKIM signing and verification milter for Postfix
 dkim-milter signs the mail of your users (RSA-SHA256 and Ed25519-SHA256)
 and adds an Authentication-Results header to incoming mail, as a libmilter
 service for Postfix. It reads the common subset of an existing
 opendkim.conf, runs as its own user under a hardened systemd unit, and
 tells systemd when it is ready.
 .
 dkimkey makes keys and the DNS records to publish, signs and verifies
 saved messages, explains why a signature failed, and checks a published
 key against the private key.
EOF
echo /etc/dkim-milter/dkim-milter.conf > "$stage/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 0755 "$here/$script" "$stage/DEBIAN/$script"
done
(cd "$stage" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' | sort -z \
    | xargs -0 md5sum > DEBIAN/md5sums)
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"
find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

mkdir -p "$output"
deb=$output/dkim-milter_${debversion}_$arch.deb
dpkg-deb --root-owner-group -Z"$compression" --build "$stage" "$deb" >/dev/null
echo "$deb"
