#!/bin/sh
# Makes DIR a fresh Debian 12 (bookworm) root for the package tests: debootstrap --variant=minbase
# from the Debian mirror apt uses on this machine, kept once as .build-deb/roots/bookworm.tar, so
# that the next root is an untar (seconds) rather than a debootstrap (about half a minute here).
# The root gets this machine's Debian sources (the same mirror, updates and security), its
# resolv.conf, and a policy-rc.d that keeps packages from starting services in it.
#
#   contrib/debian/test-root.sh DIR          (DIR must not exist; needs root and debootstrap)
#
# Run a command in it with /proc mounted (the Swift runtime reads its arguments there), the
# mount gone when the command ends:
#   unshare --mount --propagation private sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' DIR CMD...
set -eu
dir=${1:?usage: test-root.sh DIR}
[ ! -e "$dir" ] || { echo "test-root.sh: $dir exists" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=$repo/.build-deb/roots
tarball=$cache/bookworm.tar

sources=/etc/apt/sources.list.d/debian.sources
mirror=
if [ -r "$sources" ]; then
    mirror=$(awk '/^URIs:/ { print $2; exit }' "$sources")
elif [ -r /etc/apt/sources.list ]; then
    mirror=$(awk '$1 == "deb" && $3 ~ /^bookworm/ { print $2; exit }' /etc/apt/sources.list)
fi
mirror=${mirror:-http://deb.debian.org/debian}

if [ ! -s "$tarball" ]; then
    mkdir -p "$cache"
    work=$cache/work.$$
    rm -rf "$work"
    echo "test-root.sh: debootstrap bookworm from $mirror (once; cached in $tarball)" >&2
    debootstrap --variant=minbase bookworm "$work" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
        tail -20 "$cache/debootstrap.log" >&2; rm -rf "$work"; exit 1; }
    chroot "$work" apt-get clean
    tar -C "$work" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$work"
fi

mkdir -p "$dir"
tar -C "$dir" -xf "$tarball"
if [ -r "$sources" ]; then
    cp "$sources" "$dir/etc/apt/sources.list.d/debian.sources"
    rm -f "$dir/etc/apt/sources.list"
fi
cp /etc/resolv.conf "$dir/etc/resolv.conf"
printf '#!/bin/sh\n# No service starts inside this test root.\nexit 101\n' > "$dir/usr/sbin/policy-rc.d"
chmod 0755 "$dir/usr/sbin/policy-rc.d"
