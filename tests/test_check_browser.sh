#!/usr/bin/env bash
# The quick report of valley check opened in headless Chromium (issue 7): every image of
# index.html loaded (the page counts them on load: body data-images / data-images-loaded) and
# the summary table has one row per registered check.  Skipped (exit 77), saying so, without
# Chromium (Debian's chromium package; scripts/setup.sh --tests installs it) or gnuplot.
# usage: test_check_browser.sh VALLEY
set -u
valley=$1
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "SKIP: no Chromium (Debian's chromium package; scripts/setup.sh --tests installs it)"
  exit 77
fi
if ! command -v gnuplot > /dev/null; then
  echo "SKIP: no gnuplot, so the report has no pictures to load"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$valley" check --quick --out "$tmp/r" > /dev/null 2>&1 || { echo "FAIL: valley check --quick"; exit 1; }
n=$("$valley" check --list | grep -c '^[a-z0-9]')
# --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --user-data-dir="$tmp/profile" \
  --virtual-time-budget=10000 --dump-dom "file://$tmp/r/index.html" > "$tmp/dom.html" 2> "$tmp/err"
body=$(grep -o '<body[^>]*>' "$tmp/dom.html")
images=$(echo "$body" | sed -n 's/.*data-images="\([0-9]*\)".*/\1/p')
loaded=$(echo "$body" | sed -n 's/.*data-images-loaded="\([0-9]*\)".*/\1/p')
rows=$(grep -c '<tr class="claim"' "$tmp/dom.html")
echo "chromium: $browser; images $loaded/$images loaded; summary rows $rows, checks $n"
if [ -z "$images" ] || [ "$images" -lt 1 ] || [ "$loaded" != "$images" ] || [ "$rows" -ne "$n" ]; then
  echo "FAIL"
  tail -3 "$tmp/err"
  exit 1
fi
echo "1 passed, 0 failed"
