#!/usr/bin/env bash
# Installs what the tests need, then runs every test (unit, corpus, CLI, interoperability, the
# doctor's test zones against dnsmasq and pyspf, Postfix), then a short fuzzing run of every
# libFuzzer target (fixed seed and number of executions, about 90 s in all; contrib/fuzz.sh
# SECONDS for long runs).
set -euo pipefail
cd "$(dirname "$0")/.."
contrib/setup.sh
swift build --build-tests
swift test --skip-build
contrib/fuzz.sh --ci
