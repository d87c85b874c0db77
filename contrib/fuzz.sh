#!/usr/bin/env bash
# Fuzzes the DKIM parsers, canonicalizer, verifier and milter state machine with libFuzzer.
#
#   contrib/fuzz.sh [SECONDS_PER_TARGET] [TARGET…]     (default 60 s; all targets)
#   contrib/fuzz.sh --ci                                 (the short run contrib/test.sh makes)
#   FUZZ_ARGS="-jobs=2 …" adds libFuzzer options; FUZZ_CONFIGURATION=debug builds without -O.
#
# Builds Sources/dkim-fuzz with -sanitize=fuzzer,address into .build-fuzz (the normal .build is
# not touched), writes seed inputs from Tests/Fixtures/corpus to .build-fuzz/seeds/TARGET, keeps
# what libFuzzer finds in .build-fuzz/corpus/TARGET (it grows from run to run), and writes crash
# inputs to .build-fuzz/crashes/. Exits 1 when any target crashed, naming the crash file.
# Replay a crash without libFuzzer: .build-fuzz/release/dkim-fuzz replay TARGET FILE
set -uo pipefail
cd "$(dirname "$0")/.."

# --ci: a fixed number of executions per target from a fixed seed, starting from the seeds
# alone, so every run tries the same inputs (a CI result does not depend on luck or speed);
# about 15 s per target here. Long runs use time and keep what they find.
ci=0
if [ "${1:-}" = "--ci" ]; then
    ci=1
    shift
    # Swift seeds its hash function per process; fixed, dictionaries iterate the same way each run.
    export SWIFT_DETERMINISTIC_HASHING=1
fi
seconds=60
if [ $ci -eq 0 ]; then
    seconds=${1:-60}
    shift || true
fi
targets=("$@")
declare -A ci_runs=([tag-list]=150000 [message]=40000 [key-record]=400000 [body]=50000 [verify]=50000 [milter]=100000)
[ ${#targets[@]} -eq 0 ] && targets=(tag-list message key-record body verify milter)

scratch=.build-fuzz
# release (-O, preconditions kept) runs 3 to 10 times more inputs per second than debug;
# FUZZ_CONFIGURATION=debug gives exact stacks.
config=${FUZZ_CONFIGURATION:-release}
echo "== building dkim-fuzz ($config, libFuzzer + AddressSanitizer) in $scratch"
# ld.gold prints hundreds of harmless "Cannot export local symbol '__asan_check_…'" warnings.
mkdir -p "$scratch/logs"
swift build -c "$config" --product dkim-fuzz --scratch-path "$scratch" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING >"$scratch/logs/build.log" 2>&1
rc=$?
grep -v "Cannot export local symbol" "$scratch/logs/build.log" | tail -20
bin="$scratch/$config/dkim-fuzz"
if [ $rc -ne 0 ] || [ ! -x "$bin" ]; then
    echo "fuzz.sh: the build failed (rc $rc), see $scratch/logs/build.log" >&2
    exit 2
fi

rm -rf "$scratch/seeds"
"$bin" make-seeds Tests/Fixtures/corpus "$scratch/seeds" || exit 2
mkdir -p "$scratch/crashes" "$scratch/logs"

# A Swift trap must not start the backtracer: it holds libFuzzer's pipe open for minutes.
export SWIFT_BACKTRACE=enable=no
export DKIM_FUZZ_FIXTURES=Tests/Fixtures/corpus

failed=0
summary=()
for t in "${targets[@]}"; do
    log="$scratch/logs/$t.log"
    if [ $ci -eq 1 ]; then
        corpus="$scratch/ci-corpus/$t"
        rm -rf "$corpus"
        budget=(-runs="${ci_runs[$t]}" -seed=6376)
        echo "== $t: ${ci_runs[$t]} executions, seed 6376"
    else
        corpus="$scratch/corpus/$t"
        budget=(-max_total_time="$seconds")
        echo "== $t: ${seconds}s"
    fi
    mkdir -p "$corpus"
    start=$(date +%s.%N)
    "$bin" "$t" "${budget[@]}" -print_final_stats=1 -timeout=25 -rss_limit_mb=4096 \
        -artifact_prefix="$scratch/crashes/$t-" ${FUZZ_ARGS:-} "$corpus" "$scratch/seeds/$t" >"$log" 2>&1
    rc=$?
    end=$(date +%s.%N)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    if [ $rc -ne 0 ] || [ -n "$crash" ]; then
        failed=1
        echo "   CRASH (rc $rc): ${crash:-no crash file written}; log: $log"
        grep -m1 -E "ERROR: (libFuzzer|AddressSanitizer)|Fatal error|deadly signal" "$log" | sed 's/^/   /'
        summary+=("$(printf '%-11s %12s runs %8ss  CRASH %s' "$t" "${runs:-?}" "$elapsed" "${crash:-(see $log)}")")
    else
        summary+=("$(printf '%-11s %12s runs %8ss  ok' "$t" "${runs:-?}" "$elapsed")")
    fi
done

echo "== summary (executions, wall time)"
printf '%s\n' "${summary[@]}"
exit $failed
