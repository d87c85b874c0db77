#!/usr/bin/env bash
# Soak: mixed signing and verifying load against dkim-milter for MINUTES (default 30), sampling its
# RSS every 5 s. Prints the samples' first, minimum, maximum and last values; fails if RSS grew by
# more than 20% between the end of the first minute and the end, or if the milter died.
# Usage: contrib/soak.sh [MINUTES]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
swift build -c release --product dkim-milter >/dev/null && swift build -c release --product dkim-bench >/dev/null
work=$(mktemp -d)
mkdir -p "$work/Keys/example.com"
install -m 600 Tests/Fixtures/corpus/keys/rsa2048a.pem "$work/Keys/example.com/sr2048a.pem"
.build/release/dkim-milter --keys-dir "$work/Keys" --test-records Tests/Fixtures/corpus/keys.txt \
  --socket "unix:$work/milter.sock" > /dev/null 2>&1 &
pid=$!
trap 'kill -KILL $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -S "$work/milter.sock" ] && break; sleep 0.1; done
end=$(( $(date +%s) + minutes * 60 ))
(
  while [ "$(date +%s)" -lt "$end" ]; do
    .build/release/dkim-bench load --socket "unix:$work/milter.sock" --messages 2000 --concurrency 8 --per-connection 10 --size 4096 >/dev/null
    .build/release/dkim-bench load --socket "unix:$work/milter.sock" --messages 2000 --concurrency 8 --per-connection 1 --mode verify >/dev/null
    .build/release/dkim-bench load --socket "unix:$work/milter.sock" --messages 20 --concurrency 2 --size 2000000 >/dev/null
  done
) &
load=$!
: > "$work/rss.csv"
while kill -0 $load 2>/dev/null; do
  kill -0 $pid || { echo "soak: dkim-milter died" >&2; exit 1; }
  echo "$(date +%s),$(awk '/VmRSS/ {print $2}' /proc/$pid/status)" >> "$work/rss.csv"
  sleep 5
done
wait $load
awk -F, -v start="$(head -1 "$work/rss.csv" | cut -d, -f1)" '
  { t = $1 - start; r = $2; n++; if (n == 1) first = r; last = r; if (min == "" || r < min) min = r; if (r > max) max = r
    if (t <= 60) warm = r }
  END { printf "soak: %d samples over %d s; RSS kB first %d, after 1 min %d, min %d, max %d, last %d\n", n, t, first, warm, min, max, last
        if (last > warm * 1.2) { print "soak: RSS grew by more than 20% after warm-up"; exit 1 } }' "$work/rss.csv"
echo "soak: samples in $work/rss.csv"
