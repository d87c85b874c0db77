#!/usr/bin/env bash
# Runs dkim-milter built with ThreadSanitizer, then with AddressSanitizer (+ LeakSanitizer), under a
# signing and a verifying load from dkim-bench (8 concurrent connections), stops it with SIGTERM and
# fails if a sanitizer reported anything. Usage: contrib/sanitize.sh [MESSAGES]
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-400}
swift build -c release --product dkim-bench >/dev/null
status=0
for sanitizer in thread address; do
  scratch=.build-$sanitizer
  swift build --product dkim-milter --scratch-path "$scratch" --sanitize="$sanitizer" >/dev/null
  work=$(mktemp -d)
  mkdir -p "$work/Keys/example.com"
  install -m 600 Tests/Fixtures/corpus/keys/rsa2048a.pem "$work/Keys/example.com/sr2048a.pem"
  TSAN_OPTIONS=report_thread_leaks=0 "$scratch/debug/dkim-milter" --keys-dir "$work/Keys" \
    --test-records Tests/Fixtures/corpus/keys.txt --socket "unix:$work/milter.sock" > "$work/milter.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do [ -S "$work/milter.sock" ] && break; sleep 0.1; done
  .build/release/dkim-bench load --socket "unix:$work/milter.sock" --messages "$messages" --concurrency 8 --per-connection 5
  .build/release/dkim-bench load --socket "unix:$work/milter.sock" --messages "$messages" --concurrency 8 --mode verify --per-connection 1
  kill -TERM "$pid"; wait "$pid" || true
  reports=$(grep -c "WARNING: ThreadSanitizer\|ERROR: AddressSanitizer\|ERROR: LeakSanitizer" "$work/milter.log" || true)
  echo "sanitize: $sanitizer: $reports report(s) (log: $work/milter.log)"
  [ "$reports" = 0 ] || status=1
done
exit $status
