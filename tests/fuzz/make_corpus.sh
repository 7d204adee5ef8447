#!/usr/bin/env bash
# Regenerates the committed seed corpora tests/fuzz/corpus/<name>/ with valley itself
# (tests/fuzz/make_corpus.c).  Deterministic: a re-run leaves git diff empty.
#   tests/fuzz/make_corpus.sh [BUILD_DIR]   (default build; builds fuzz_make_corpus there)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
cmake --build "$build" --target fuzz_make_corpus >/dev/null
rm -rf tests/fuzz/corpus
VALLEY_FIXTURE=tests/data/mlp_fixture.safetensors "$build/tests/fuzz/fuzz_make_corpus" tests/fuzz/corpus
du -sh tests/fuzz/corpus
