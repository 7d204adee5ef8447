#!/usr/bin/env bash
# The main job: install what is missing, build, and run `valley check`: every claim of the papers
# that valley tests, at the default scale (under 5 minutes on 2 cores), into the report folder
# valley-report/ (index.html, report.md, report.json, figures/).  Extra arguments go to
# `valley check` (e.g. --quick, --full, --only NAME, --out DIR, --json).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
build/valley check "$@"
