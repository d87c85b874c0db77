#!/usr/bin/env bash
# Runs dkim-milter built with ThreadSanitizer, then with AddressSanitizer (+ LeakSanitizer), under a
# signing and a verifying load from dkim-bench (8 concurrent connections), stops it with SIGTERM and
# fails if a sanitizer reported anything. Usage: contrib/sanitize.sh [MESSAGES]
#
# contrib/sanitize.sh --suite: the whole test suite (`swift test`) built with AddressSanitizer, then
# with ThreadSanitizer (every dkim-milter the tests start is built with it too). Not run by CI: it
# takes two extra builds and the suite runs 2 to 5 times slower.
# - TSan: libmilter never joins its signal-handling thread, which TSan reports as a "thread leak"
#   at exit (exit status 66); that report is turned off, every other one counts.
# - ASan: LeakSanitizer's report at the test runner's exit is printed but does not fail the run:
#   its leaks are Foundation's Process and Pipe objects (the test harness); any AddressSanitizer
#   error does.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--suite" ]; then
  status=0
  for sanitizer in address thread; do
    scratch=.build-suite-$sanitizer
    log=$scratch/test.log
    swift build --build-tests --scratch-path "$scratch" --sanitize="$sanitizer" >/dev/null
    TSAN_OPTIONS=report_thread_leaks=0 ASAN_OPTIONS=detect_leaks=0 \
      swift test --skip-build --scratch-path "$scratch" --sanitize="$sanitizer" >"$log" 2>&1 || true
    summary=$(grep -E "Test run with" "$log" | tail -1)
    reports=$(grep -c "WARNING: ThreadSanitizer\|ERROR: AddressSanitizer" "$log" || true)
    echo "sanitize --suite: $sanitizer: $summary; $reports report(s) (log: $log)"
    if [ "$reports" != 0 ] || ! grep -q "✔ Test run with" "$log"; then status=1; fi
  done
  exit $status
fi
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
