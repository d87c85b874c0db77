#!/usr/bin/env bash
# Publishes a key made by `dkimkey generate` in a real DNS server and checks that other tools accept it.
#
# usage: unshare --net --mount published_key_check.sh DKIMKEY WORKDIR TYPE
#   TYPE: rsa or ed25519
# Runs inside a private network and mount namespace (so nothing leaves it): loopback up, dnsmasq on
# 127.0.0.1:53 serving the record pasted from the generated zone line, /etc/resolv.conf bind-mounted
# to point at it. Prints one "CHECK name ok|FAILED" line per check; exits non-zero if any failed.
set -uo pipefail
dkimkey=$1; work=$2; type=$3
# Not a .test name: OpenDKIM's libunbound answers RFC 6761 names such as .test itself, without asking.
domain=example.com; selector=sel2026
ip link set lo up

"$dkimkey" generate "$selector" --domain "$domain" --type "$type" --keys-dir "$work/keys" > "$work/generate.out" || exit 2
txt="$work/keys/$domain/$selector.txt"
# The zone line's quoted strings, pasted into dnsmasq's --txt-record: comma separated, one
# character-string each (dnsmasq keeps quote characters literally).
strings=$(grep -o '"[^"]*"' "$txt" | tr -d '"' | paste -sd, -)
dnsmasq --keep-in-foreground --no-resolv --no-hosts --listen-address=127.0.0.1 --bind-interfaces --port=53 \
  --pid-file="$work/dnsmasq.pid" --txt-record="$selector._domainkey.$domain,$strings" &
dns_pid=$!
# SIGKILL: a parent may have left SIGTERM blocked, and the blocked mask is inherited.
trap 'kill -KILL "$dns_pid" 2>/dev/null; wait "$dns_pid" 2>/dev/null' EXIT
echo "nameserver 127.0.0.1" > "$work/resolv.conf"
mount --bind "$work/resolv.conf" /etc/resolv.conf
for _ in $(seq 50); do
  /usr/bin/python3 -c "import dns.resolver,sys; dns.resolver.resolve('$selector._domainkey.$domain','TXT')" 2>/dev/null && break
  sleep 0.1
done

failed=0
check() { if "$@" >> "$work/log" 2>&1; then echo "CHECK $name ok"; else echo "CHECK $name FAILED"; failed=1; fi; }

printf 'From: Admin <admin@%s>\r\nTo: someone@example.org\r\nSubject: published key test\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\nMessage-ID: <key-test@%s>\r\n\r\nHello from a freshly published key.\r\n' "$domain" "$domain" > "$work/message.eml"
"$dkimkey" sign --key "$work/keys/$domain/$selector.pem" --domain "$domain" --selector "$selector" "$work/message.eml" > "$work/signed.eml" || exit 2

# dkimpy, looking the key up in DNS with its own resolver (dnspython, /etc/resolv.conf).
name=dkimpy; check /usr/bin/python3 -c "
import dkim, sys
msg = open('$work/signed.eml', 'rb').read()
ok = dkim.DKIM(msg).verify()
print('dkimpy verify:', ok)
sys.exit(0 if ok else 1)"

# dkimkey verify through the system resolver (no --records).
name=dkimkey; check "$dkimkey" verify "$work/signed.eml"

# OpenDKIM's key test: the published record matches the private key.
if [ "$type" = rsa ]; then
  printf 'Nameservers 127.0.0.1\n' > "$work/opendkim.conf"
  name=opendkim-testkey; check opendkim-testkey -d "$domain" -s "$selector" -k "$work/keys/$domain/$selector.pem" -x "$work/opendkim.conf" -vvv
fi
cat "$work/log" >&2
exit $failed
