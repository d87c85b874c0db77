#!/usr/bin/env bash
# Copies the team's shared DKIM corpus (../shared/corpus) into Tests/Fixtures/corpus, so that the
# project stays self-contained, and writes Tests/Fixtures/corpus.sha256 (sha256sum format, one line
# per file, paths relative to the corpus, sorted bytewise). The test suite checks the copy against
# that manifest always, and the shared corpus against it whenever ../shared/corpus is present.
set -euo pipefail
cd "$(dirname "$0")/.."
src=../shared/corpus
[ -d "$src" ] || { echo "sync-corpus: $src not found" >&2; exit 1; }
rm -rf Tests/Fixtures/corpus
cp -r "$src" Tests/Fixtures/corpus
chmod -R u+w Tests/Fixtures/corpus
(cd Tests/Fixtures/corpus && find . -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 sha256sum --) \
    > Tests/Fixtures/corpus.sha256
files=$(wc -l < Tests/Fixtures/corpus.sha256)
echo "sync-corpus: Tests/Fixtures/corpus now equals $src ($files files in corpus.sha256)"
