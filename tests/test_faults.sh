#!/usr/bin/env bash
# Faults while writing (docs/reliability.md): a full disk (ENOSPC: a 16 KiB tmpfs mounted
# in a private mount namespace, skipped with a message where unshare/mount is not allowed), a
# file size limit (EFBIG: ulimit -f with SIGXFSZ ignored, always run), and SIGINT, SIGTERM and
# SIGHUP in the middle of long runs of several commands.  Each must end with a non-zero status
# (128 + the signal after a signal), say what happened in its last stderr line (the path and the
# cause; "interrupted"), and leave no file behind: no output, no temporary file, no report
# folder (a grid sweep keeps its resumable file, as docs/sweeps.md says).
# usage: test_faults.sh VALLEY_BINARY
set -u
valley=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
data=${5-}  # inside the namespace: the data folder made below, passed in
have_data=0
[ -f "$data/train-images-idx3-ubyte.gz" ] && have_data=1

# ---- inside the private mount namespace: DIR is a 16 KiB tmpfs ----------------------------------
if [ "${2-}" = --full-disk ]; then
  D=$3 work=$4
  fail=0
  full() { # full NAME PATH_IN_MESSAGE ARGS...: must fail naming the path and ENOSPC, leave D empty
    local name=$1 path=$2; shift 2
    (cd "$work" && "$valley" "$@") > "$work/so" 2> "$work/se" < /dev/null
    local rc=$? last; last=$(tail -n 1 "$work/se")
    local left; left=$(ls -A "$D")
    if [ $rc -ne 0 ] && [[ $last == *"$path"* ]] && [[ $last == *"No space left on device"* ]] \
       && [ -z "$left" ]; then
      echo "ok  : full disk, $name: exit $rc: $last"
    else
      echo "FAIL: full disk, $name: exit $rc, left '$left', stderr: $(tail -n 3 "$work/se")"
      fail=1
    fi
    rm -rf "${D:?}"/* "$D"/.[!.]* 2>/dev/null
  }
  full "theorem2 --trajectory" "$D/t.csv" theorem2 --chains 2 --steps 20000 --burn-in 10 \
    --trajectory "$D/t.csv" --trajectory-steps 5000
  full "steady-state --out" "$D/s.csv" steady-state --preset fig4-left --T 0.1 --points 5000 \
    --out "$D/s.csv"
  full "basins --csv" "$D/b.csv" basins --preset fig4-left --sweep 0.05:1:400 --csv "$D/b.csv"
  full "theorem1 --sweep-l" "$D/l.csv" theorem1 --sweep-l "$D/l.csv" --sweep-points 1000
  full "direction --csv" "$D/x.csv" direction --profile "$work/prof.csv" --delta-step 1e-4 \
    --csv "$D/x.csv"
  full "check: the report folder" "$D/r" check --quick --only thm2-wbar,thm2-preconditions \
    --out "$D/r"
  # the report on stdout, sent by the shell to a full disk: not silent
  head -c 1M /dev/zero > "$D/fill" 2> /dev/null # the disk full first
  "$valley" theorem2 --chains 2 --steps 20000 --burn-in 10 --json > "$D/out.json" 2> "$work/se"
  rc=$?
  if [ $rc -ne 0 ] && grep -q "cannot write the standard output: No space left on device" "$work/se"; then
    echo "ok  : full disk, theorem2 --json > FILE: exit $rc: $(tail -n 1 "$work/se")"
  else
    echo "FAIL: full disk, theorem2 --json > FILE: exit $rc, stderr: $(cat "$work/se")"
    fail=1
  fi
  rm -f "$D/out.json" "$D/fill"
  if [ $have_data -eq 1 ]; then
    # a set of files (one profile per direction): synced first, renamed after -- none stays
    "$valley" net train --widths 784,16,10 --epochs 1 --data "$data" --out "$work/p.vck" \
      > /dev/null 2>&1
    full "net probe: three profiles" "$D/p" net probe --checkpoint "$work/p.vck" --data "$data" \
      --directions 3 --grid -1:1:201 --out "$D/p"
    full "net train: the checkpoint" "$D/n.vck" net train --widths 784,32,10 --epochs 1 \
      --train-subset 200 --test-subset 100 --data "$data" --out "$D/n.vck"
  fi
  exit $fail
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A small Fashion-MNIST look-alike (tests/make_fake_fmnist.py: valid IDX files, 600 training and
# 200 test images): loads in milliseconds, where the real one takes seconds.  Without python3, the real
# data set where it is installed, else the net/experiment cases are skipped.
data=${work}_data
mkdir -p "$data"
have_data=0
if command -v python3 > /dev/null 2>&1 &&
  python3 "$(dirname "$0")/make_fake_fmnist.py" "$data" 600 200 --gzip
then
  have_data=1
elif [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  rmdir "$data"
  data=/usr/share/datasets/fashion-mnist
  have_data=1
fi
trap 'rm -rf "$work" "${work}_data"' EXIT
pass=0 fail=0
ok() { echo "ok  : $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }
{ echo 'l,train_loss,test_loss'
  awk 'BEGIN { for (i = -50; i <= 50; i++) { l = i / 25; printf "%g,%g,%g\n", l, l*l, (l-0.3)*(l-0.3) } }'
} > "$work/prof.csv"

# ---- ENOSPC ---------------------------------------------------------------------------------------
mkdir "$work/disk"
if unshare -rm sh -c "mount -t tmpfs -o size=16k tmpfs '$work/disk'" 2> /dev/null; then
  out=$(unshare -rm sh -c "mount -t tmpfs -o size=16k tmpfs '$work/disk' && \
        exec bash '$0' '$valley' --full-disk '$work/disk' '$work' '$data'" 2>&1)
  rc=$?
  echo "$out"
  n_ok=$(grep -c '^ok' <<< "$out")
  pass=$((pass + n_ok))
  [ $rc -eq 0 ] || fail=$((fail + 1))
else
  echo "skip: full disk: unshare -rm / mount -t tmpfs not allowed here"
fi

# ---- EFBIG: ulimit -f 8 (KiB), SIGXFSZ ignored ------------------------------------------------------
big() { # big NAME PATH ARGS...
  local name=$1 path=$2; shift 2
  mkdir -p "$work/big"
  (cd "$work" && ulimit -f 8 && trap '' XFSZ && exec "$valley" "$@") > /dev/null 2> "$work/se" < /dev/null
  local rc=$? last; last=$(tail -n 1 "$work/se")
  local left; left=$(ls -A "$work/big")
  if [ $rc -ne 0 ] && [[ $last == *"$path"* ]] && [[ $last == *"File too large"* ]] && [ -z "$left" ]; then
    ok "file size limit, $name: exit $rc: $last"
  else
    bad "file size limit, $name: exit $rc, left '$left', stderr: $(tail -n 3 "$work/se")"
  fi
  rm -rf "$work/big"
}
big "theorem2 --trajectory" "$work/big/t.csv" theorem2 --chains 2 --steps 20000 --burn-in 10 \
  --trajectory "$work/big/t.csv" --trajectory-steps 5000
big "steady-state --out" "$work/big/s.csv" steady-state --preset fig4-left --T 0.1 --points 5000 \
  --out "$work/big/s.csv"
big "check: the report folder" "$work/big/r" check --quick --only thm2-wbar,thm2-preconditions \
  --out "$work/big/r"
if [ $have_data -eq 1 ]; then
  big "net train: the checkpoint" "$work/big/n.vck" net train --widths 784,32,10 --epochs 1 \
    --train-subset 200 --test-subset 100 --data "$data" --out "$work/big/n.vck"
fi

# ---- signals ----------------------------------------------------------------------------------------
# Job control on: a background job keeps SIGINT (a shell without it starts them with SIGINT
# ignored, which valley, as every program, leaves ignored).
set -m
sigbit() { case $1 in INT) echo 1 ;; TERM) echo 14 ;; HUP) echo 0 ;; esac; }
signum() { case $1 in INT) echo 2 ;; TERM) echo 15 ;; HUP) echo 1 ;; esac; }
# interrupt SIG NAME KEEP ARGS...: started in $work/o, SIG once valley's handler is in place;
# exit 128 + SIG, "interrupted" on the last stderr line, nothing on stdout, $work/o empty (KEEP: a
# file that may stay, the sweep's resumable file).
interrupt() {
  local sig=$1 name=$2 keep=$3; shift 3
  rm -rf "$work/o"
  mkdir "$work/o"
  (cd "$work/o" && exec "$valley" "$@") > "$work/so" 2> "$work/se" < /dev/null &
  local pid=$! bit; bit=$(sigbit "$sig")
  # wait until the handler is installed (SigCgt), then signal: no sleep decides the result
  local tries=0
  while kill -0 $pid 2> /dev/null && [ $tries -lt 3000 ]; do
    local m; m=$(awk '/^SigCgt/ { print $2 }' "/proc/$pid/status" 2> /dev/null)
    [ -n "$m" ] && [ $(( 16#$m >> bit & 1 )) -eq 1 ] && break
    tries=$((tries + 1))
    sleep 0.01
  done
  kill -s "$sig" $pid
  local waited=0
  while kill -0 $pid 2> /dev/null && [ $waited -lt 1200 ]; do sleep 0.1; waited=$((waited + 1)); done
  if kill -0 $pid 2> /dev/null; then
    kill -KILL $pid
    wait $pid
    bad "SIG$sig, $name: still running 120 s after the signal"
    return
  fi
  wait $pid
  local rc=$? want=$((128 + $(signum "$sig"))) last; last=$(tail -n 1 "$work/se")
  local left; left=$(cd "$work/o" && ls -A | grep -vx -- "$keep")
  if [ $rc -eq $want ] && [[ $last == *interrupted* ]] && [ ! -s "$work/so" ] && [ -z "$left" ]; then
    ok "SIG$sig, $name: exit $rc: $last"
  else
    bad "SIG$sig, $name: exit $rc (want $want), left '$left', stdout $(wc -c < "$work/so") bytes, stderr: $(tail -n 3 "$work/se")"
  fi
}
interrupt INT "theorem2 Monte Carlo" "" theorem2 --chains 4 --steps 1e9 --trajectory t.csv
interrupt TERM "steady-state --sde" "" steady-state --preset fig4-left --T 0.1 --sde \
  --particles 1000 --time 1e5 --dt 1e-3 --out s.csv
interrupt HUP "fp2d --sde" "" fp2d --example curl --cells 32 --sde 1000 --time 1e5 --json
interrupt INT "theorem1 --search" "" theorem1 --search --search-n 640000 --d 20 --json
interrupt HUP "basins --sweep" "" basins --preset fig4-left --sweep 0.01:1:20000 --csv b.csv
interrupt TERM "check" "" check --out r
interrupt INT "theorem2 --grid" "g.jsonl" theorem2 --chains 4 --steps 1e9 \
  --grid eta=0.1,0.2,0.3 --out g.jsonl
[ -s "$work/o/g.jsonl" ] && ok "SIGINT, theorem2 --grid: the resumable file holds its header" \
  || bad "SIGINT, theorem2 --grid: no sweep file"
if [ $have_data -eq 1 ]; then
  interrupt TERM "net train" "" net train --widths 784,32,10 --epochs 100000 \
    --data "$data" --out n.vck
  interrupt HUP "experiment (its --out folder made and removed again)" "" experiment swa-vs-sgd \
    --data "$data" --out e
else
  echo "skip: net train and experiment under signals: no python3 and no Fashion-MNIST"
fi
set +m # (no job notices; SIGTERM is not ignored in background jobs)
# A second signal kills, as it would without valley's handler: the first is taken (the handler
# puts the default action back, which SigCgt shows), the second ends valley at once -- by the
# signal, without the "interrupted" line (check polls only between checks, seconds apart).
rm -rf "$work/o"
mkdir "$work/o"
(cd "$work/o" && exec "$valley" check --out r) > /dev/null 2> "$work/se" < /dev/null &
pid=$!
cgt() { awk '/^SigCgt/ { print $2 }' "/proc/$pid/status" 2> /dev/null; }
for _ in $(seq 3000); do m=$(cgt); [ -n "$m" ] && [ $(( 16#$m >> 14 & 1 )) -eq 1 ] && break; sleep 0.01; done
kill -TERM $pid
for _ in $(seq 3000); do m=$(cgt); [ -z "$m" ] || [ $(( 16#$m >> 14 & 1 )) -eq 0 ] && break; sleep 0.01; done
if kill -TERM $pid 2> /dev/null; then
  wait $pid
  rc=$?
  [ $rc -eq 143 ] && ! grep -q interrupted "$work/se" && ok "a second SIGTERM kills at once (exit $rc)" \
    || bad "second SIGTERM: exit $rc, stderr: $(tail -n 2 "$work/se")"
else
  wait $pid
  echo "skip: second signal: check had already stopped"
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
