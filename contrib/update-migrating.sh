#!/usr/bin/env bash
# Rewrites the option lists of contrib/MIGRATING.md (between its options markers) from the
# option table, as `dkim-milter --list-options markdown` prints it. A test fails when they differ.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product dkim-milter >/dev/null
lists=$(.build/debug/dkim-milter --list-options markdown)
awk -v lists="$lists" '
    /<!-- options:begin -->/ { print; print lists; skip = 1; next }
    /<!-- options:end -->/ { skip = 0 }
    !skip { print }
' contrib/MIGRATING.md > contrib/MIGRATING.md.new
mv contrib/MIGRATING.md.new contrib/MIGRATING.md
