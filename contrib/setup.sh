#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need (Debian 12 with Swift installed).
# Safe to run again: it installs only what is missing. Needs root (or sudo) when something is missing.
set -euo pipefail

packages=(
  libssl-dev          # OpenSSL 3 libcrypto: signing, verifying, key generation
  libmilter-dev       # libmilter: the dkim-milter daemon
  python3-dkim        # dkimpy: interoperability tests
  python3-dnspython   # DNS for dkimpy in the tests
  python3-authres     # an RFC 8601 parser, reading the Authentication-Results we write (security tests)
  python3-spf         # pyspf: the oracle for SPF check_host() results (dkimkey doctor tests)
  curl                # HTTP queries to Prometheus and the metrics endpoint in the tests
  prometheus          # a real Prometheus server scraping the milter's /metrics (observability tests)
  libmail-dkim-perl   # Perl Mail::DKIM: interoperability tests
  libnet-dns-perl
  opendkim            # OpenDKIM milter: interoperability tests and benchmarks
  opendkim-tools      # opendkim-testkey
  dnsmasq-base        # a real DNS server on loopback for the tests
  bind9               # named and tsig-keygen: DNS UPDATE with TSIG against a real server (publishing tests)
  bind9-dnsutils      # dig and nsupdate, to cross-check what the publishing tests read and send
  publicsuffix        # the Public Suffix List, for DMARC alignment
  iproute2            # ip, to bring up loopback in the tests' network namespaces
  util-linux          # unshare, setsid and script (the Postfix end-to-end tests)
  postfix             # real Postfix with smtp-source and smtp-sink: end-to-end milter tests
  postgresql          # a real PostgreSQL server (initdb, postgres, psql) started by the SQL dataset tests
  libpq-dev           # libpq: the PostgreSQL client library behind DKIMPostgres
  libopendbx1-pgsql   # OpenDKIM's SQL driver (OpenDBX for PostgreSQL), for comparison tests
  pkg-config
  # The package (contrib/debian/build-deb.sh, contrib/install.sh) and its tests (PackagingTests):
  libcurl4-openssl-dev  # -lcurl for the static release build: FlyingFox imports FoundationNetworking
  dpkg-dev            # dpkg-shlibdeps (the .deb's Depends) and dpkg-deb
  binutils            # strip, readelf
  xz-utils            # the .deb's compression
  man-db              # man --warnings on the generated manual pages
  lintian             # the .deb checked as Debian checks packages
  debootstrap         # fresh Debian 12 roots the tests install the .deb into
  systemd             # systemd-analyze verify and security on the unit (never booted here)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
as_root=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null; then as_root=(sudo env DEBIAN_FRONTEND=noninteractive); else
    echo "setup: these Debian packages are missing and this is not root: ${missing[*]}" >&2
    echo "setup: run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# Postfix without this answer installs as "Internet Site", a system-wide instance on port 25.
# "No configuration" writes no main.cf: the tests run their own instances with postfix -c DIR.
if printf '%s\n' "${missing[@]}" | grep -qx postfix; then
  echo "postfix postfix/main_mailer_type select No configuration" | "${as_root[@]}" debconf-set-selections
fi
"${as_root[@]}" apt-get update -qq
# OpenDKIM's and BIND's packages start a service where an init system runs; a policy-rc.d that
# answers 101 keeps them from starting. Where the machine has none, one is put there for the
# install and removed after it. The tests start their own named on a port of their own, with no
# control channel, so a system named that did start is never touched.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\n# contrib/setup.sh: no service starts while packages are installed.\nexit 101\n' \
    | "${as_root[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${as_root[@]}" chmod 755 /usr/sbin/policy-rc.d
  trap '"${as_root[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The opendkim package may have started its own daemon through init scripts; the tests start their own.
# Likewise Debian's postgresql package may create and start a cluster on port 5432: the tests never
# use or touch it; each starts its own server (initdb into a temporary folder, its own socket and port).
