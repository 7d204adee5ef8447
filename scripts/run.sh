#!/usr/bin/env bash
# The main job: install what is missing, build, and run `valley theorem2` on its default valley.
# Extra arguments go to `valley theorem2` (e.g. --json).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
build/valley theorem2 "$@"
