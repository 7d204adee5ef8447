#!/usr/bin/env bash
# valley across MPI ranks (docs/mpi.md): theorem2 (chains), theorem1 (the gain's blocks, the
# search's instances), steady-state and fp2d (the Langevin ensembles' particles), the
# parameter-grid sweeps (points) and net probe (directions) print, and write, byte for byte what
# the single-process run does (the same binary without mpirun: one rank, which runs as the build
# without MPI does) for any number of ranks and threads, pieces divisible by the ranks or not, and
# more ranks than pieces; an interrupted MPI sweep resumes to the same file; only rank 0 prints;
# bad input on every rank is one line, exit status 2, no file.
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

# same_cmd NAME NP CMD ARGS...: the single-process output against mpirun -np NP, byte for byte.
same_cmd() {
  local name=$1 np=$2; shift 2
  "$valley" "$@" > "$tmp/ref" 2> "$tmp/ref.err" || { bad "$name: single run failed: $(cat "$tmp/ref.err")"; return; }
  mpi "$np" "$@" > "$tmp/mpi" 2> "$tmp/mpi.err"
  local rc=$?
  if [ $rc -ne 0 ]; then bad "$name: mpirun -np $np exit $rc: $(head -3 "$tmp/mpi.err")"; return; fi
  cmp -s "$tmp/ref" "$tmp/mpi" && ok "$name: -np $np byte-identical" || bad "$name: -np $np differs"
  grep -qx "valley: $np MPI ranks" "$tmp/mpi.err" && ok "$name: stderr says $np ranks" \
    || bad "$name: stderr: $(head -3 "$tmp/mpi.err")"
}
same() { local name=$1 np=$2; shift 2; same_cmd "$name" "$np" theorem2 "$@"; }

# refused NAME PATTERN NP ARGS...: bad input under mpirun: exit 2, one message from rank 0, nothing
# on stdout.
refused() {
  local name=$1 pat=$2 np=$3; shift 3
  mpi "$np" "$@" > "$tmp/out" 2> "$tmp/err"
  local rc=$? n
  n=$(grep -c "$pat" "$tmp/err")
  [ $rc -eq 2 ] && [ "$n" -eq 1 ] && [ ! -s "$tmp/out" ] && ok "$name: exit 2, one message" \
    || bad "$name: exit $rc, $n messages: $(head -3 "$tmp/err")"
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

# ---- theorem1: the gain's blocks (enumeration: 2^12 patterns, Monte Carlo: 4096 samples a
# block) and the search's instances
same_cmd "theorem1 default (enumeration, one block)" 3 theorem1 --json
same_cmd "theorem1 d = 15, q = sin (8 blocks)" 3 theorem1 --d 15 --k 3 --q sin --xi 0.01 --threads 1
same_cmd "theorem1 Monte Carlo, d = 40, 8 blocks" 3 theorem1 --d 40 --k 2 --samples 30000 --q bump --xi 0.1 --json
same_cmd "theorem1 --search, statement space" 3 theorem1 --search --search-n 400 --json
same_cmd "theorem1 --search, proof space" 2 theorem1 --search --search-n 300 --search-space proof
"$valley" theorem1 --sweep-l "$tmp/l1.csv" --sweep-points 5 > /dev/null 2>&1
mpi 3 theorem1 --sweep-l "$tmp/l3.csv" --sweep-points 5 > /dev/null 2>&1
cmp -s "$tmp/l1.csv" "$tmp/l3.csv" && ok "theorem1 --sweep-l: 5 rows on 3 ranks, the file byte-identical (rank 0 writes it)" \
  || bad "theorem1 --sweep-l differs"
refused "theorem1 --sweep-l into a missing folder" "^valley theorem1: --sweep-l" 3 theorem1 --sweep-l "$tmp/no/such/l.csv"
[ ! -e "$tmp/no" ] && ok "theorem1 --sweep-l: no folder created" || bad "theorem1 --sweep-l created a folder"

# ---- the Langevin ensembles: particles split (particle i draws stream i wherever it runs)
same_cmd "steady-state --sde --sgd-lr, start rho" 3 steady-state --sde --sgd-lr 0.01,0.02 --particles 700 --time 1 --json
same_cmd "steady-state, uniform start, two-point noise, 2 threads" 2 steady-state --sde --sgd-lr 0.05 --sgd-noise two-point --start uniform --particles 301 --time 1 --threads 2
same_cmd "steady-state, generic kernel (grad noise), --fv" 3 steady-state --preset fig4-left-grad1 --sde --particles 200 --time 0.5 --fv 100
same_cmd "steady-state, 2 particles on 3 ranks" 3 steady-state --sde --particles 2 --time 0.2 --json
"$valley" steady-state --sde --particles 100 --time 0.2 --out "$tmp/o1.csv" > /dev/null 2>&1
mpi 2 steady-state --sde --particles 100 --time 0.2 --out "$tmp/o2.csv" > /dev/null 2>&1
cmp -s "$tmp/o1.csv" "$tmp/o2.csv" && ok "steady-state --out byte-identical (rank 0 writes it)" \
  || bad "steady-state --out differs"
same_cmd "fp2d --sde" 3 fp2d --sde 2000 --time 0.5 --cells 64 --json
same_cmd "fp2d separable --sde, 1 thread" 2 fp2d --example separable --sde 500 --time 0.3 --cells 32 --bins 8 --threads 1
refused "steady-state --out into a missing folder" "^valley steady-state: --out" 2 steady-state --sde --out "$tmp/no/such/o.csv"
refused "fp2d --bins 3" "^valley fp2d: --bins must" 3 fp2d --sde 100 --bins 3

# ---- parameter-grid sweeps: points by rank, rank 0 writes the file in grid order
grid='c=2,5,1e12;nu=0.5,1'   # c = 1e12: an error record
g2="theorem2 --chains 8 --steps 20000 --grid $grid"
"$valley" $g2 --out "$tmp/g1.jsonl" > /dev/null 2> "$tmp/g1.err"
mpi 3 $g2 --out "$tmp/g3.jsonl" > "$tmp/out" 2> "$tmp/g3.err"
rc=$?
[ $rc -eq 0 ] && cmp -s "$tmp/g1.jsonl" "$tmp/g3.jsonl" && [ ! -s "$tmp/out" ] \
  && ok "theorem2 --grid: -np 3 file byte-identical (6 points, one error record)" \
  || bad "theorem2 --grid: -np 3 exit $rc or file differs: $(head -3 "$tmp/g3.err")"
[ "$(grep -c 'grid point [0-9]/6 done' "$tmp/g3.err")" -eq 6 ] && ok "theorem2 --grid: rank 0 reports each point once" \
  || bad "theorem2 --grid: progress lines: $(head -3 "$tmp/g3.err")"
gb="basins --preset fig4-right --param-grid T=0.05,0.1,0.2;wscale=0,1"
"$valley" $gb --out "$tmp/b1.jsonl" > /dev/null 2>&1
mpi 2 $gb --out "$tmp/b2.jsonl" > /dev/null 2>&1
cmp -s "$tmp/b1.jsonl" "$tmp/b2.jsonl" && ok "basins --param-grid: -np 2 file byte-identical" \
  || bad "basins --param-grid: -np 2 file differs"
# an interrupted sweep (header, two records, a torn third) resumed by -np 2
head -c $(( $(head -3 "$tmp/g1.jsonl" | wc -c) + 30 )) "$tmp/g1.jsonl" > "$tmp/g4.jsonl"
mpi 2 $g2 --out "$tmp/g4.jsonl" > /dev/null 2> "$tmp/g4.err"
rc=$?
[ $rc -eq 0 ] && cmp -s "$tmp/g1.jsonl" "$tmp/g4.jsonl" && grep -q "resuming: 2 of 6 grid points" "$tmp/g4.err" \
  && ok "theorem2 --grid: a torn sweep resumed by -np 2 ends byte-identical" \
  || bad "theorem2 --grid resume: exit $rc: $(head -3 "$tmp/g4.err")"
# a finished sweep run again computes nothing
mpi 3 $g2 --out "$tmp/g4.jsonl" > /dev/null 2> "$tmp/g4.err"
cmp -s "$tmp/g1.jsonl" "$tmp/g4.jsonl" && grep -q "(0 computed now)" "$tmp/g4.err" \
  && ok "theorem2 --grid: a finished sweep is left as it is" || bad "theorem2 --grid: finished sweep rerun"
# bad input: one message, exit 2, the file untouched or not created
cp "$tmp/g1.jsonl" "$tmp/g5.jsonl"
refused "theorem2 --grid, another sweep's file" "holds a different sweep" 3 theorem2 --chains 9 --steps 20000 --grid "$grid" --out "$tmp/g5.jsonl"
cmp -s "$tmp/g1.jsonl" "$tmp/g5.jsonl" && ok "another sweep's file untouched" || bad "another sweep's file changed"
refused "theorem2 --grid c=-1" "^valley theorem2: grid point 1 (c=-1)" 2 theorem2 --grid 'c=2,-1' --out "$tmp/g6.jsonl"
[ ! -e "$tmp/g6.jsonl" ] && ok "bad grids: no file" || bad "bad grids: a file was created"

# ---- net probe: directions split in whole chunks of 8 (the stacked first-layer GEMM)
fm=/usr/share/datasets/fashion-mnist
if [ -f "$fm/train-images-idx3-ubyte.gz" ]; then
  export OPENBLAS_NUM_THREADS=1
  "$valley" net train --widths 784,16,10 --epochs 1 --batch 32 --train-subset 1000 --test-subset 200 \
    --seed 3 --out "$tmp/net.vck" > /dev/null 2>&1
  probe="net probe --checkpoint $tmp/net.vck --family filter --directions 17 --grid -1:1:5 --seed 7 --train-subset 500 --test-subset 200"
  "$valley" $probe --out "$tmp/p1" > "$tmp/p1.txt" 2> /dev/null
  mpi 3 $probe --out "$tmp/p3" > "$tmp/p3.txt" 2> /dev/null
  rc=$? same_files=1
  for k in $(seq 0 16); do cmp -s "$tmp/p1_$k.csv" "$tmp/p3_$k.csv" || same_files=0; done
  # the report names the files and the wall time: both differ, the rest must not
  norm() { sed -e "s|$tmp/p[13]_|P_|g" -e 's/[0-9.]* s on/T s on/' "$1"; }
  [ $rc -eq 0 ] && [ $same_files -eq 1 ] && [ "$(norm "$tmp/p1.txt")" = "$(norm "$tmp/p3.txt")" ] \
    && ok "net probe: 17 directions on -np 3, the 17 profiles and the report byte-identical" \
    || bad "net probe: -np 3 exit $rc, files same $same_files"
  refused "net probe --out into a missing folder" "^valley net probe: --out" 2 $probe --out "$tmp/no/such/p"
else
  echo "skip: net probe ($fm absent)"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
