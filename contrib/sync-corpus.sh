#!/usr/bin/env bash
# Copies the team's shared DKIM corpus (../shared/corpus) into Tests/Fixtures/corpus, so that the
# project stays self-contained; the test suite fails while the two differ.
set -euo pipefail
cd "$(dirname "$0")/.."
src=../shared/corpus
[ -d "$src" ] || { echo "sync-corpus: $src not found" >&2; exit 1; }
rm -rf Tests/Fixtures/corpus
cp -r "$src" Tests/Fixtures/corpus
chmod -R u+w Tests/Fixtures/corpus
echo "sync-corpus: Tests/Fixtures/corpus now equals $src"
