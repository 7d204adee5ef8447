#!/usr/bin/env bash
# The reproducibility matrix (docs/reliability.md): every command, at small settings, runs
#   a  OMP_NUM_THREADS=1, seed 1          b  OMP_NUM_THREADS=2, seed 1
#   c  OMP_NUM_THREADS=2, seed 1 again    d  OMP_NUM_THREADS=2 --threads 1 (commands with --threads)
#   e  OMP_NUM_THREADS=2, seed 2 (random commands)
# each in a folder of its own (relative output paths, so that the outputs name the same files);
# stdout and every file written must be byte-identical for a, b, c and d, and e must differ from
# a in lines other than those that echo the seed (so a command that ignores its seed, or prints
# nothing, cannot pass).  The only bytes scrubbed
# are wall-clock timings ("seconds" in JSON, "(1.9 s)" in the check report).  Every JSON printed
# carries the same "build" object (valley version GSL compiler flags ...).
# The network commands run on a small synthetic IDX data set written here (no Fashion-MNIST).
# usage: test_repro.sh VALLEY PYTHON
set -u
valley=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
py=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
pass=0 fail=0
ok() { echo "ok  : $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }

# Timings are the one legitimate difference between two runs; everything else is compared.
# Only valley check (report.json, report.md, index.html, --json) and net train and probe (--json)
# report them.
scrub() {
  "$py" - "$1" <<'PY'
import os, re, sys
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        p = os.path.join(root, f)
        if not f.endswith((".json", ".md", ".html", "stdout")):
            continue
        s = open(p, encoding="utf-8", errors="surrogateescape").read()
        t = re.sub(r'("seconds"\s*:\s*)[0-9.eE+-]+', r'\g<1>0', s)
        t = re.sub(r'\b[0-9]+\.[0-9] s\b', 'T s', t)
        if t != s:
            open(p, "w", encoding="utf-8", errors="surrogateescape").write(t)
PY
}

# one_run DIR SEED OMP THREADS_ARG ARGS...: runs valley ARGS (@S replaced by SEED) in DIR.
one_run() {
  local dir=$1 seed=$2 omp=$3 thr=$4; shift 4
  local args=() x
  for x in "$@"; do args+=("${x//@S/$seed}"); done
  [ -n "$thr" ] && args+=(--threads "$thr")
  mkdir -p "$dir"
  (cd "$dir" && OMP_NUM_THREADS=$omp "$valley" "${args[@]}" > stdout 2> "../$(basename "$dir").err")
  local rc=$?
  [ $rc -eq 0 ] || { echo "  $(basename "$dir"): exit $rc: $(head -c 300 "$dir.err")"; return 1; }
  [ -z "${SCRUB:-}" ] || scrub "$dir"
}

# matrix NAME RANDOM(0|1) THREADS(0|1) ARGS...
matrix() {
  local name=$1 random=$2 threads=$3; shift 3
  local d=$tmp/$name
  one_run "$d.a" 1 1 "" "$@" || { bad "$name: run a failed"; return; }
  one_run "$d.b" 1 2 "" "$@" || { bad "$name: run b failed"; return; }
  one_run "$d.c" 1 2 "" "$@" || { bad "$name: run c failed"; return; }
  local v same=1 what=""
  [ "$threads" -eq 1 ] && { one_run "$d.d" 1 2 1 "$@" || { bad "$name: run d failed"; return; }; }
  for v in b c d; do
    [ -d "$d.$v" ] || continue
    if ! diff -r "$d.a" "$d.$v" > "$d.diff.$v" 2>&1; then same=0; what="$what $v"; fi
  done
  local n
  n=$(find "$d.a" -type f | wc -l)
  [ -s "$d.a/stdout" ] || [ "$n" -gt 1 ] || { bad "$name: no output at all"; return; }
  [ $same -eq 1 ] && ok "$name: $n outputs byte-identical (1 and 2 threads, twice$([ "$threads" -eq 1 ] && echo ", --threads 1"))" \
    || { bad "$name: outputs differ in run(s)$what: $(head -5 "$d.diff.${what##* }")"; return; }
  if [ "$random" -eq 1 ]; then
    one_run "$d.e" 2 2 "" "$@" || { bad "$name: run e (seed 2) failed"; return; }
    # the seed itself (echoed in every output) does not count: the results must differ
    "$py" - "$d.a" "$d.e" <<'PY' && ok "$name: another seed changes the results" \
      || bad "$name: seed 2 gives the same results as seed 1"
import json, os, sys
def strip(v):  # JSON without the keys that name the seed
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if "seed" not in k}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v
def content(path):
    b = open(path, "rb").read()
    try:
        t = b.decode()
    except UnicodeDecodeError:
        return b
    out = []  # else line by line: JSON Lines records, or text without the lines naming the seed
    for line in t.splitlines():
        try:
            out.append(strip(json.loads(line)))
            continue
        except ValueError:
            pass
        if "seed" not in line:
            out.append(line)
    try:  # a whole JSON document (pretty-printed over many lines)
        return strip(json.loads(t))
    except ValueError:
        return out
a, e = sys.argv[1:3]
for root, _, files in os.walk(a):
    for f in files:
        pa = os.path.join(root, f)
        pe = os.path.join(e, os.path.relpath(pa, a))
        if not os.path.exists(pe) or content(pa) != content(pe):
            sys.exit(0)
sys.exit(1)
PY
  fi
  local f
  for f in "$d.a"/*.jsonl; do # a sweep's header line carries the build object too
    [ -f "$f" ] || continue
    "$py" - "$f" "$tmp/build.json" <<'PY' && ok "$name: $(basename "$f")'s header carries the build object" \
      || bad "$name: $(basename "$f")'s header lacks the build object"
import json, sys
h = json.loads(open(sys.argv[1]).readline())
assert "valley_sweep" in h and h["build"] == json.load(open(sys.argv[2]))["build"], h
PY
  done
  if grep -q '^{' "$d.a/stdout" 2> /dev/null; then
    "$py" - "$d.a/stdout" "$tmp/build.json" <<'PY' && ok "$name: --json carries the build object" \
      || bad "$name: --json lacks the build object"
import json, sys
b = json.load(open(sys.argv[1]))["build"]
assert b == json.load(open(sys.argv[2]))["build"], b
PY
  fi
}

"$valley" version --json > "$tmp/build.json"
"$py" - "$tmp/build.json" <<'PY' && ok "valley version --json: the build object" || bad "version --json"
import json, sys
b = json.load(open(sys.argv[1]))["build"]
for k in ("valley", "build_type", "compiler", "c_flags", "gsl_header", "gsl_runtime",
          "zlib_header", "zlib_runtime", "openblas_header", "openblas_runtime", "openmp", "mpi",
          "cuda"):
    assert k in b, k
assert b["gsl_header"].count(".") >= 1 and b["compiler"] and b["c_flags"], b
PY

# The fixtures: a profile CSV (as tests/test_cli.sh's) and a tiny Fashion-MNIST-shaped IDX set
# (tests/make_fake_fmnist.py).
"$py" - "$tmp/prof.csv" "$tmp/idx" <<'PY'
import os, struct, sys
def v(x):
    t = abs(x); y = 0.4 * t * t if t <= 0.5 else 0.1 + 0.4 * (t - 0.5)
    return y if x >= 0 else 3 * y
ls = [(i - 300) / 100 for i in range(601)]
open(sys.argv[1], "w").write("l,train_loss,test_loss\n" + "\n".join(
    "%r,%r,%r" % (l, v(l), v(l - 0.3) + 0.1) for l in ls) + "\n")
PY
"$py" "$(dirname "$0")/make_fake_fmnist.py" "$tmp/idx"
data=$tmp/idx

matrix theorem2 1 1 theorem2 --chains 8 --steps 20000 --burn-in 100 --seed @S --json \
  --trajectory traj.csv --trajectory-steps 200
matrix theorem2-text 1 1 theorem2 --chains 6 --steps 10000 --burn-in 100 --seed @S \
  --valley saturating --noise two-point
matrix theorem2-grid 1 1 theorem2 --chains 4 --steps 4000 --burn-in 100 --seed @S \
  --grid 'c=2,4;nu=0.5,1' --out grid.jsonl
matrix theorem1 1 1 theorem1 --d 30 --k 2 --method monte-carlo --samples 20000 --seed @S --json
matrix theorem1-search 1 1 theorem1 --search --search-n 300 --seed @S --json
matrix basins 0 1 basins --preset fig4-left --sweep 0.01:1:8 --json --csv sweep.csv
matrix basins-grid 0 1 basins --param-grid 'T=0.05,0.2;preset=fig4-left,fig6-three' --out b.jsonl
matrix steady-state 1 1 steady-state --preset fig4-left --T 0.1 --sde --sgd-lr 0.03 \
  --particles 2000 --time 0.3 --dt 1e-3 --bins 60 --seed @S --json --out rho.csv --points 101
matrix fp2d 1 1 fp2d --example curl --sde 2000 --time 1 --cells 32 --bins 16 --seed @S --json
matrix direction 0 0 direction --profile "$tmp/prof.csv" --json --csv xi.csv
SCRUB=1 matrix net-train 1 0 net train --widths 784,16,10 --epochs 1 --batch 32 --data "$data" \
  --seed @S --out net.vck --safetensors net.safetensors --json
ck=$tmp/net-train.a/net.vck
if [ -f "$ck" ]; then
  matrix net-eval 0 0 net eval --checkpoint "$ck" --data "$data" --json
  SCRUB=1 matrix net-probe 1 0 net probe --checkpoint "$ck" --data "$data" --directions 2 --grid -1:1:5 \
    --seed @S --out p --json
else
  bad "net eval / probe: no checkpoint from net train"
fi
SCRUB=1 matrix check 1 1 check --quick --only def3-shift-gap,thm2-lemma4 --seed @S --out rep --json

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
