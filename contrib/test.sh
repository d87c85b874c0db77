#!/usr/bin/env bash
# Installs what the tests need, then runs every test (unit, corpus, CLI, interoperability, the
# doctor's test zones against dnsmasq and pyspf, Postfix), then the package's (the .deb, the
# unit and install.sh in Debian 12 roots), then a short fuzzing run of every libFuzzer target
# (fixed seed and number of executions, about 90 s in all; contrib/fuzz.sh SECONDS for long runs).
set -euo pipefail
cd "$(dirname "$0")/.."
contrib/setup.sh
swift build --build-tests
swift test --skip-build --skip PackagingTests
# The package on its own, after the rest: it makes a release build and installs the .deb into
# fresh Debian 12 roots (README "Install": what it checks, how long it takes).
swift test --skip-build --filter PackagingTests
contrib/fuzz.sh --ci
