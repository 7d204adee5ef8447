#!/usr/bin/env bash
# Checkpoint and resume of the long runs (docs/reliability.md): theorem2 --checkpoint (chains),
# theorem1 --checkpoint (the gain's Monte Carlo blocks), steady-state and fp2d --checkpoint (the
# SDE and SGD ensembles' particles) and net train --state (epochs).  Each run is killed with SIGKILL once
# its file holds some finished work, its file is given a torn tail, and the run is started again:
# it must say that it resumes, print the bytes of an uninterrupted run (net train: the same
# checkpoint bytes and report but for wall-clock seconds) and remove its file.  A file from other
# settings, or not a checkpoint at all, exits 2 and is left as it was.
# usage: test_resume.sh VALLEY_BINARY
set -u
valley=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok  : $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }
size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# Runs valley "$@" in the background and kills it with SIGKILL as soon as the file $1 has grown
# past the size it was first seen with (one finished block saved after the header), or when the
# line $2 appears on stderr (net train).
kill_after() {
  local file=$1 line=$2 first=-1 pid s
  shift 2
  "$valley" "$@" > "$tmp/killed.out" 2> "$tmp/killed.err" &
  pid=$!
  for _ in $(seq 1 6000); do
    kill -0 "$pid" 2>/dev/null || break
    if [ -n "$line" ]; then
      grep -q "$line" "$tmp/killed.err" && [ -f "$file" ] && break
    elif [ -f "$file" ]; then
      s=$(size "$file")
      [ "$first" -lt 0 ] && first=$s
      [ "$s" -gt "$first" ] && break
    fi
    sleep 0.01
  done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

# name, checkpoint flag, whether to also run once uninterrupted with the flag, then the command
resume_case() {
  local name=$1 flag=$2 again=$3 ck="$tmp/$1.ck"
  shift 3
  "$valley" "$@" > "$tmp/$name.ref" 2> "$tmp/$name.referr"
  [ $? -eq 0 ] || { bad "$name: reference run failed: $(cat "$tmp/$name.referr")"; return; }
  kill_after "$ck" "" "$@" "$flag" "$ck"
  if [ ! -f "$ck" ]; then
    bad "$name: the killed run left no checkpoint (it finished too soon?)"
    return
  fi
  printf 'torn!' >> "$ck" # a record cut short by the crash
  "$valley" "$@" "$flag" "$ck" > "$tmp/$name.out" 2> "$tmp/$name.err"
  local rc=$?
  [ $rc -eq 0 ] && grep -q "resuming from $ck" "$tmp/$name.err" \
    && ok "$name: killed with SIGKILL after some blocks, resumed ($(grep -o '[0-9]* of [0-9]* blocks' "$tmp/$name.err"))" \
    || bad "$name: resume exit $rc: $(cat "$tmp/$name.err")"
  cmp -s "$tmp/$name.ref" "$tmp/$name.out" && ok "$name: resumed output is byte-identical to the uninterrupted run" \
    || bad "$name: resumed output differs"
  [ ! -e "$ck" ] && ok "$name: the checkpoint is removed once the report is out" || bad "$name: $ck left behind"
  # an uninterrupted run with the flag is the same too
  [ "$again" = again ] || return
  "$valley" "$@" "$flag" "$ck" > "$tmp/$name.out2" 2>/dev/null
  cmp -s "$tmp/$name.ref" "$tmp/$name.out2" && [ ! -e "$ck" ] \
    && ok "$name: a run with $flag that is not interrupted gives the same bytes" \
    || bad "$name: run with $flag differs or left its file"
}

resume_case theorem2 --checkpoint again theorem2 --json --chains 4096 --steps 300000 --threads 1
resume_case theorem1 --checkpoint once theorem1 --json --method monte-carlo --samples 6000000 --d 6 --k 2 --threads 1
resume_case steady --checkpoint once steady-state --preset fig6-three --T 0.1 --sde --sgd-lr 0.02 \
  --particles 8192 --time 4 --threads 1 --json
resume_case fp2d --checkpoint once fp2d --sde 16384 --time 2 --threads 1 --json

# theorem2 part-way through a block: 64 long chains are one block; --checkpoint-every 0 saves its
# state after every time segment (FILE.part); killed once that exists, the run goes on from it
T2L="theorem2 --json --chains 64 --steps 8000000 --threads 1"
"$valley" $T2L > "$tmp/t2l.ref" 2>/dev/null
"$valley" $T2L --checkpoint "$tmp/t2l.ck" --checkpoint-every 0 > /dev/null 2>&1 &
pid=$!
for _ in $(seq 1 3000); do [ -f "$tmp/t2l.ck.part" ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.01; done
sleep 0.2
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
[ -f "$tmp/t2l.ck.part" ] && ok "theorem2: a block's state is saved part-way (FILE.part)" || bad "theorem2: no FILE.part"
: > "$tmp/t2l.ck.part.tmp.Zz9Yy8" # as if killed in the middle of a save
"$valley" $T2L --checkpoint "$tmp/t2l.ck" > "$tmp/t2l.out" 2> "$tmp/t2l.err"
rc=$?
[ $rc -eq 0 ] && grep -q "resuming chains 0..63 part-way" "$tmp/t2l.err" && cmp -s "$tmp/t2l.ref" "$tmp/t2l.out" \
  && ok "theorem2: resumed part-way through the block, byte-identical" || bad "theorem2 part-way: exit $rc: $(cat "$tmp/t2l.err")"
[ -z "$(ls "$tmp" | grep t2l.ck)" ] && ok "theorem2: FILE, FILE.part and the stale temporary file are gone" \
  || bad "theorem2: left $(ls "$tmp" | grep t2l.ck)"

# SIGINT once a block is saved: exit 130, one line saying what is kept, the file kept; the same
# command then resumes to the same bytes
T2S="theorem2 --json --chains 4096 --steps 300000 --threads 1"
"$valley" $T2S --checkpoint "$tmp/sig.ck" > "$tmp/sig.out" 2> "$tmp/sig.err" &
pid=$!
first=-1
for _ in $(seq 1 3000); do
  kill -0 $pid 2>/dev/null || break
  if [ -f "$tmp/sig.ck" ]; then s=$(size "$tmp/sig.ck"); [ $first -lt 0 ] && first=$s; [ "$s" -gt "$first" ] && break; fi
  sleep 0.01
done
kill -INT $pid 2>/dev/null
wait $pid
rc=$?
[ $rc -eq 130 ] && [ "$(wc -l < "$tmp/sig.err")" -eq 1 ] && grep -q "interrupted by SIGINT: [0-9]* of 4 blocks of chains are saved in $tmp/sig.ck" "$tmp/sig.err" \
  && [ ! -s "$tmp/sig.out" ] && [ -f "$tmp/sig.ck" ] \
  && ok "theorem2 --checkpoint and SIGINT: exit 130, one line naming what is saved ($(cat "$tmp/sig.err"))" \
  || bad "theorem2 SIGINT: exit $rc: $(cat "$tmp/sig.err")"
"$valley" $T2S > "$tmp/sig.ref" 2>/dev/null
"$valley" $T2S --checkpoint "$tmp/sig.ck" > "$tmp/sig.out" 2>/dev/null
cmp -s "$tmp/sig.ref" "$tmp/sig.out" && [ ! -e "$tmp/sig.ck" ] && ok "theorem2: resumed after SIGINT, byte-identical" \
  || bad "theorem2: resume after SIGINT differs"

# a file from other settings, and a file that is no checkpoint: exit 2, one line, file kept
kill_after "$tmp/other.ck" "" theorem2 --json --chains 4096 --steps 300000 --threads 1 --checkpoint "$tmp/other.ck"
if [ -f "$tmp/other.ck" ]; then
  before=$(md5sum < "$tmp/other.ck")
  "$valley" theorem2 --json --chains 4096 --steps 300000 --threads 1 --eta 0.02 --checkpoint "$tmp/other.ck" \
    > "$tmp/o.out" 2> "$tmp/o.err"
  rc=$?
  [ $rc -eq 2 ] && [ "$(wc -l < "$tmp/o.err")" -eq 1 ] && grep -q "different run" "$tmp/o.err" \
    && grep -q -- "--eta" "$tmp/o.err" && [ ! -s "$tmp/o.out" ] && [ "$(md5sum < "$tmp/other.ck")" = "$before" ] \
    && ok "a checkpoint of other settings: exit 2, names the setting, file untouched ($(cat "$tmp/o.err"))" \
    || bad "other settings: exit $rc: $(cat "$tmp/o.err")"
else
  bad "could not make a partial checkpoint for the other-settings case"
fi
echo "hello" > "$tmp/junk.ck"
"$valley" theorem2 --checkpoint "$tmp/junk.ck" > "$tmp/j.out" 2> "$tmp/j.err"
rc=$?
[ $rc -eq 2 ] && grep -q "not a valley run checkpoint" "$tmp/j.err" && [ "$(cat "$tmp/junk.ck")" = hello ] \
  && ok "a file that is not a checkpoint: exit 2, left as it was" || bad "junk checkpoint: exit $rc: $(cat "$tmp/j.err")"
"$valley" theorem2 --checkpoint "$tmp/x.ck" --grid 'c=2,4' --out "$tmp/x.jsonl" 2> "$tmp/g.err"
rc=$?
[ $rc -eq 2 ] && [ ! -e "$tmp/x.ck" ] && [ ! -e "$tmp/x.jsonl" ] && ok "--checkpoint with --grid: exit 2, no file" \
  || bad "--checkpoint with --grid: exit $rc"
"$valley" steady-state --checkpoint "$tmp/y.ck" 2> "$tmp/s.err"
rc=$?
[ $rc -eq 2 ] && [ ! -e "$tmp/y.ck" ] && ok "steady-state --checkpoint without an ensemble: exit 2" \
  || bad "steady-state --checkpoint alone: exit $rc"

# net train --state: killed after epoch 4 of 12, resumed; same checkpoint bytes, same report but
# for the wall-clock seconds
# a small Fashion-MNIST look-alike (tests/make_fake_fmnist.py): loads in milliseconds
if python3 "$(dirname "$0")/make_fake_fmnist.py" "$tmp/fm" 2000 500 --gzip; then
  NT="net train --data $tmp/fm --widths 784,32,10 --bn --epochs 12 --batch 64 --test-subset 500 --swa-start 6 --swa-freq 2 --lr-step-epoch 5 --json"
  export OPENBLAS_NUM_THREADS=1
  "$valley" $NT --out "$tmp/ref.vck" > "$tmp/nt.ref" 2>/dev/null || bad "net train reference failed"
  kill_after "$tmp/nt.state" "epoch 4/" $NT --out "$tmp/res.vck" --state "$tmp/nt.state"
  [ -f "$tmp/nt.state" ] && [ ! -e "$tmp/res.vck" ] && ok "net train killed after epoch 4: a state, no model file" \
    || bad "net train: no state after the kill (or a model file already)"
  "$valley" $NT --out "$tmp/res.vck" --state "$tmp/nt.state" > "$tmp/nt.out" 2> "$tmp/nt.err"
  rc=$?
  [ $rc -eq 0 ] && grep -q "resuming from $tmp/nt.state after epoch" "$tmp/nt.err" \
    && ok "net train --state: resumed ($(grep -o 'after epoch [0-9]* of [0-9]*' "$tmp/nt.err"))" \
    || bad "net train resume exit $rc: $(cat "$tmp/nt.err")"
  cmp -s "$tmp/ref.vck" "$tmp/res.vck" && ok "net train: the resumed model file is byte-identical" \
    || bad "net train: model files differ"
  diff <(grep -v '"seconds"\|"checkpoint"' "$tmp/nt.ref") <(grep -v '"seconds"\|"checkpoint"' "$tmp/nt.out") > /dev/null \
    && ok "net train: the report is the same but for seconds and the file name" || bad "net train reports differ"
  [ ! -e "$tmp/nt.state" ] && ok "net train: the state is removed at the end" || bad "net train: state left"
  # SIGTERM after epoch 3: the epoch's state is saved, exit 143, then the run goes on to the same model
  "$valley" $NT --out "$tmp/t.vck" --state "$tmp/t.state" > /dev/null 2> "$tmp/t.err" &
  pid=$!
  for _ in $(seq 1 6000); do grep -q "epoch 3/" "$tmp/t.err" && break; kill -0 $pid 2>/dev/null || break; sleep 0.01; done
  kill -TERM $pid 2>/dev/null
  wait $pid
  rc=$?
  [ $rc -eq 143 ] && grep -q "interrupted by SIGTERM: the state after epoch [0-9]* of 12 is saved in $tmp/t.state" "$tmp/t.err" \
    && [ -f "$tmp/t.state" ] && [ ! -e "$tmp/t.vck" ] \
    && ok "net train --state and SIGTERM: exit 143, the state kept, no model ($(tail -1 "$tmp/t.err"))" \
    || bad "net train SIGTERM: exit $rc: $(tail -2 "$tmp/t.err")"
  "$valley" $NT --out "$tmp/t.vck" --state "$tmp/t.state" > /dev/null 2>&1
  cmp -s "$tmp/ref.vck" "$tmp/t.vck" && ok "net train: resumed after SIGTERM, the same model bytes" \
    || bad "net train: model after SIGTERM differs"
  printf 'x' >> "$tmp/ref.vck"
  "$valley" $NT --out "$tmp/z.vck" --state "$tmp/ref.vck" > /dev/null 2> "$tmp/nz.err"
  rc=$?
  [ $rc -eq 2 ] && [ ! -e "$tmp/z.vck" ] && grep -q "not a valley run checkpoint" "$tmp/nz.err" \
    && ok "net train --state on a file that is no state: exit 2 ($(tail -1 "$tmp/nz.err"))" \
    || bad "net train bad state: exit $rc"
else
  bad "net train --state: could not write the synthetic data set (python3)"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
