#!/usr/bin/env bash
# Installs what the tests need, then runs every test (unit, corpus, CLI, interoperability).
set -euo pipefail
cd "$(dirname "$0")/.."
contrib/setup.sh
swift build --build-tests
swift test --skip-build
