#!/usr/bin/env bash
# One experiment of issue 6 in quick mode through the command line (docs/experiments.md):
# the run succeeds, the report NAME.json has every key of the frame and a valid verdict, every
# file it lists exists with a CSV header, no temporary file is left, and the experiment's own
# checks tests/exp/NAME.py pass (they read the report and the CSVs).
# usage: test_experiment.sh VALLEY PYTHON NAME        exit 77 (skipped) without Fashion-MNIST
set -u
valley=$1 py=$2 name=$3
here=$(cd "$(dirname "$0")" && pwd)
fm=/usr/share/datasets/fashion-mnist
if [ ! -d "$fm" ]; then
  echo "SKIP: Fashion-MNIST is not installed ($fm; scripts/setup.sh --tests installs it)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$valley" experiment "$name" --out "$tmp/out" --json > "$tmp/run.json" 2> "$tmp/err"
rc=$?
cat "$tmp/err" | tail -n 5
if [ $rc -ne 0 ]; then
  echo "FAIL: valley experiment $name exit $rc"
  exit 1
fi
"$py" - "$tmp/run.json" "$tmp/out/$name.json" "$name" <<'PY' || exit 1
import json, os, sys
run, rep, name = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
e = run["experiments"][0]
assert e["name"] == name and e["ran"] is True, e
for k in ["experiment", "claim", "source", "mode", "seed", "device", "results", "verdict",
          "summary", "files", "seconds"]:
    assert k in rep, "report lacks " + k
assert rep["experiment"] == name and rep["mode"] == "quick"
assert rep["verdict"] in ("reproduced", "not reproduced", "inconclusive"), rep["verdict"]
assert rep["verdict"] == e["verdict"] and rep["summary"] == e["summary"] and len(rep["summary"]) > 10
for f in rep["files"]:
    assert os.path.basename(f).startswith(name + "_") and f.endswith(".csv"), f
    lines = [l for l in open(f) if not l.startswith("#")]
    assert len(lines) >= 2 and "," in lines[0], f
print(f"ok  : {name}: {rep['verdict']} in {rep['seconds']:.1f} s: {rep['summary']}")
PY
if ls "$tmp/out" | grep -q '\.tmp'; then
  echo "FAIL: a temporary file was left behind"
  exit 1
fi
"$py" "$here/exp/$name.py" "$tmp/out/$name.json" || { echo "FAIL: tests/exp/$name.py"; exit 1; }
echo "1 passed, 0 failed"
