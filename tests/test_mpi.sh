#!/usr/bin/env bash
# valley theorem2 across MPI ranks (docs/mpi.md): the report, text and --json, and the
# --trajectory file are byte for byte those of the single-process run (the same binary without
# mpirun: one rank, which runs valley_thm2_check as the build without MPI does) for any number of
# ranks and threads, chains divisible by the ranks or not, and more ranks than chains; only rank
# 0 prints; bad input on every rank is one line, exit status 2, no file.
# usage: test_mpi.sh VALLEY_BINARY MPIEXEC
set -u
valley=$1
mpiexec=${2:-mpirun}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok  : $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }
# Open MPI refuses root unless told; containers and CI runners often are root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=PASSIVE
mpi() { local np=$1; shift; "$mpiexec" --oversubscribe --allow-run-as-root -np "$np" "$valley" "$@"; }

# same NAME NP ARGS...: the single-process output against mpirun -np NP, byte for byte.
same() {
  local name=$1 np=$2; shift 2
  "$valley" theorem2 "$@" > "$tmp/ref" 2> "$tmp/ref.err" || { bad "$name: single run failed: $(cat "$tmp/ref.err")"; return; }
  mpi "$np" theorem2 "$@" > "$tmp/mpi" 2> "$tmp/mpi.err"
  local rc=$?
  if [ $rc -ne 0 ]; then bad "$name: mpirun -np $np exit $rc: $(head -3 "$tmp/mpi.err")"; return; fi
  cmp -s "$tmp/ref" "$tmp/mpi" && ok "$name: -np $np byte-identical" || bad "$name: -np $np differs"
  grep -qx "valley: $np MPI ranks" "$tmp/mpi.err" && ok "$name: stderr says $np ranks" \
    || bad "$name: stderr: $(head -3 "$tmp/mpi.err")"
}

json="--json --chains 64 --steps 100000"
same "json 64 chains" 3 $json
same "json 64 chains, 1 thread" 3 $json --threads 1
same "json 64 chains, 2 threads" 3 $json --threads 2
same "json 67 chains" 2 --json --chains 67 --steps 100000
same "json 67 chains" 4 --json --chains 67 --steps 100000 --threads 1
# more ranks than chains (ranks 3 and 4 have none); generic kernel, other noises, text output
same "text, saturating, two-point, 3 chains" 5 --chains 3 --steps 20000 --valley saturating --noise two-point
same "text, truncated normal, 40 chains" 3 --chains 40 --steps 30000 --noise truncated-normal

# the trajectory file: written by rank 0 only, identical to the single run's
"$valley" theorem2 --chains 8 --steps 20000 --trajectory "$tmp/t1.csv" > /dev/null 2>&1
mpi 3 theorem2 --chains 8 --steps 20000 --trajectory "$tmp/t3.csv" > /dev/null 2>&1
cmp -s "$tmp/t1.csv" "$tmp/t3.csv" && ok "--trajectory byte-identical" || bad "--trajectory differs"

# bad input: exit 2 from mpirun, one line from rank 0 only, no file
mpi 3 theorem2 --chains 0 > "$tmp/out" 2> "$tmp/err"
rc=$?
n=$(grep -c "^valley theorem2: --chains must be" "$tmp/err")
[ $rc -eq 2 ] && [ "$n" -eq 1 ] && [ ! -s "$tmp/out" ] && ok "--chains 0: exit 2, one message" \
  || bad "--chains 0: exit $rc, $n messages"
mpi 3 theorem2 --chains 4 --steps 20000 --trajectory "$tmp/no/such/dir/t.csv" > "$tmp/out" 2> "$tmp/err"
rc=$?
n=$(grep -c "^valley theorem2: --trajectory" "$tmp/err")
[ $rc -eq 2 ] && [ "$n" -eq 1 ] && [ ! -s "$tmp/out" ] && [ ! -e "$tmp/no" ] \
  && ok "--trajectory into a missing folder: exit 2, one message" \
  || bad "--trajectory into a missing folder: exit $rc, $n messages"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
