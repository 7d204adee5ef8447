#!/usr/bin/env bash
# The bad-input table (tests/bad_inputs.tsv, docs/reliability.md): each row run in a fresh
# empty folder $T (its outputs point into it) must exit with status 2, print exactly one line on
# stderr containing the row's substring and nothing on stdout, and leave $T empty (no output,
# no temporary file or folder).
# usage: test_bad_input.sh VALLEY_BINARY [TABLE.tsv] [--results FILE]
#   --results FILE: also writes kind, arguments, exit status and the stderr line per row (tab-
#   separated, with the fixture and output folders shown as $F and $T) for
#   tests/bad_input_table.py, which makes the Markdown table of the docs.
set -u
valley=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
table=$here/bad_inputs.tsv
results=
shift
while [ $# -gt 0 ]; do
  case $1 in
    --results) results=$2; shift 2 ;;
    *) table=$1; shift ;;
  esac
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
F=$work/fixtures
T=$work/out
mkdir -p "$F/adir" "$F/idx_garbage" "$F/idx_trunc" "$F/idx_dir/train-images-idx3-ubyte.gz"
: > "$F/empty.csv"
printf 'VALLEY\000\377\376garbage\001\002\n\000' > "$F/bin.dat"
printf '1 0 0\n0.6 0.8 0\n' > "$F/dirs_bad"
printf 'minima = -1 1\nweights = 0.1 0.1\nsigmas = 0.1, oops\n' > "$F/bad.spec"
printf 'l,train_loss,test_loss\n-1,1,1\nnan,0,0\n1,1,1\n' > "$F/nan.csv"
printf 'this is not a sweep\n{"broken":\n' > "$F/bad.jsonl"
printf 'not a checkpoint at all, just text\n' > "$F/garbage.vck"
printf 'VALLEYCK\001\000\000\000\220' > "$F/trunc.vck"
printf '\377\377\377\377\377\377\377\177{"a":' > "$F/garbage.safetensors"
head -c 300 "$here/data/mlp_fixture.safetensors" > "$F/trunc.safetensors"
{ echo 'l,train_loss,test_loss'
  awk 'BEGIN { for (i = -50; i <= 50; i++) { l = i / 25; printf "%g,%g,%g\n", l, l*l, (l-0.3)*(l-0.3) } }'
} > "$F/prof.csv"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  printf 'garbage, not IDX\n' > "$F/idx_garbage/$f.gz"
done
for f in train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  cp "$F/idx_garbage/$f.gz" "$F/idx_dir/"
done
# truncated: headers that promise 60000 (10000) items, a few bytes of data, gzip'ed
for s in train:60000 t10k:10000; do
  n=${s#*:}; p=${s%:*}
  printf "\\000\\000\\010\\003$(printf '\\%03o\\%03o\\%03o\\%03o' $((n>>24&255)) $((n>>16&255)) $((n>>8&255)) $((n&255)))\\000\\000\\000\\034\\000\\000\\000\\034abcdefgh" \
    | gzip -c > "$F/idx_trunc/$p-images-idx3-ubyte.gz"
  printf "\\000\\000\\010\\001$(printf '\\%03o\\%03o\\%03o\\%03o' $((n>>24&255)) $((n>>16&255)) $((n>>8&255)) $((n&255)))\\001\\002" \
    | gzip -c > "$F/idx_trunc/$p-labels-idx1-ubyte.gz"
done
[ -n "$results" ] && : > "$results"

pass=0 fail=0 rows=0
while IFS=$'\t' read -r kind args expect; do
  case $kind in ''|'#'*) continue ;; esac
  rows=$((rows + 1))
  rm -rf "$T"
  mkdir "$T"
  (cd "$T" && eval "\"\$valley\" $args") > "$work/so" 2> "$work/se" < /dev/null
  rc=$?
  lines=$(wc -l < "$work/se")
  msg=$(head -n 1 "$work/se")
  left=$(ls -A "$T")
  why=
  [ $rc -eq 2 ] || why="$why exit status $rc;"
  [ "$lines" -eq 1 ] || why="$why $lines stderr lines;"
  grep -qF -- "$expect" "$work/se" || why="$why message lacks '$expect';"
  [ -s "$work/so" ] && why="$why output on stdout;"
  [ -n "$left" ] && why="$why left behind: $left;"
  if [ -z "$why" ]; then
    pass=$((pass + 1))
    echo "ok  : $kind: $msg"
  else
    fail=$((fail + 1))
    echo "FAIL: $kind (valley $args):$why stderr: $(head -c 600 "$work/se")"
  fi
  if [ -n "$results" ]; then
    shown=${msg//$F/\$F}
    shown=${shown//$T/\$T}
    printf '%s\t%s\t%s\t%s\n' "$kind" "$args" "$rc" "$shown" >> "$results"
  fi
done < "$table"
echo "$pass of $rows bad inputs handled ($fail failed)"
[ $rows -ge 40 ] || { echo "FAIL: only $rows rows (the table needs at least 40 kinds)"; exit 1; }
[ $fail -eq 0 ]
