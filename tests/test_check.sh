#!/usr/bin/env bash
# valley check (issue 7, docs/check.md) through the command line: the quick report folder and its
# three reports agree with the registry; every figure is rendered (data, script, PNG, SVG) or,
# without gnuplot, the report says so; a rerun replaces the folder whole; bad arguments exit 2
# and leave nothing; paper_checks/CLAIMS.md has one row per registered check and no other.
# usage: test_check.sh VALLEY PYTHON SOURCE_DIR
set -u
valley=$1 py=$2 src=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { echo "ok  : $*"; }
bad() { echo "FAIL: $*"; fail=1; }

"$valley" check --list --json > "$tmp/list.json" || bad "check --list"
"$valley" check --quick --out "$tmp/r" --json > "$tmp/run.json" 2> "$tmp/err"
rc=$?
[ $rc -eq 0 ] && ok "check --quick exits 0" || { bad "check --quick exit $rc"; tail -5 "$tmp/err"; }
"$py" - "$tmp/list.json" "$tmp/run.json" "$tmp/r" "$src/paper_checks/CLAIMS.md" <<'PY' || fail=1
import json, os, re, sys
lst, run, rdir, claims = sys.argv[1:5]
names = [c["name"] for c in json.load(open(lst))["checks"]]
assert len(names) == len(set(names)) and names, names
run = json.load(open(run))
rep = json.load(open(os.path.join(rdir, "report.json")))
V = {"PASS", "FAIL", "NOT REPRODUCED", "INCONCLUSIVE", "SKIPPED"}
assert [c["name"] for c in rep["checks"]] == names == [c["name"] for c in run["checks"]]
counts = {k: 0 for k in V | {"ERROR"}}
for c, r in zip(rep["checks"], run["checks"]):
    assert c["ran"] is True and c["verdict"] in V, c
    assert c["verdict"] == r["verdict"] and c["summary"] == r["summary"] and len(c["summary"]) > 10
    for k in ("paper", "where", "claim", "command"):
        assert c[k], (c["name"], k)
    assert c["command"].startswith("valley "), c["command"]
    assert isinstance(c["numbers"], dict), c["name"]
    counts[c["verdict"]] += 1
    for g in c["figures"]:
        for k in ("data", "script"):
            p = os.path.join(rdir, g[k]); assert os.path.getsize(p) > 0, p
        data = [l for l in open(os.path.join(rdir, g["data"])) if not l.startswith("#")]
        assert len(data) >= 2 and "," in data[0], g["data"]
        assert len(g["caption"]) > 20, g
        if rep["figures_rendered"]:
            assert g["rendered"], g
            png = open(os.path.join(rdir, g["png"]), "rb").read(8)
            assert png == b"\x89PNG\r\n\x1a\n", g["png"]
            assert "<svg" in open(os.path.join(rdir, g["svg"])).read(4096), g["svg"]
if not rep["figures_rendered"]:
    assert "not rendered" in rep["figures_note"] or "gnuplot" in rep["figures_note"]
assert rep["counts"] == counts, (rep["counts"], counts)
html = open(os.path.join(rdir, "index.html")).read()
rows = re.findall(r'<tr class="claim" data-check="([^"]+)">', html)
assert rows == names, rows
md = open(os.path.join(rdir, "report.md")).read()
for n in names:
    assert "| [%s](#%s) |" % (n, n) in md, n
# CLAIMS.md: one row per check
rows = re.findall(r"^\| ([A-Za-z0-9-]+) \|", open(claims).read(), re.M)
rows = [r for r in rows if r != "check"]
assert sorted(rows) == sorted(names), (set(rows) ^ set(names))
print(f"ok  : report.json, report.md, index.html and CLAIMS.md agree on {len(names)} checks; "
      f"{sum(len(c['figures']) for c in rep['checks'])} figures"
      f"{' rendered' if rep['figures_rendered'] else ' (not rendered: ' + rep['figures_note'] + ')'}")
PY
ls "$tmp" | grep -q '\.tmp-\|\.old-' && bad "a temporary folder was left" || ok "no temporary folder left"

# a rerun replaces the folder whole
touch "$tmp/r/stale-file"
"$valley" check --quick --only thm2-wbar --out "$tmp/r" > /dev/null 2>&1 || bad "rerun"
[ ! -e "$tmp/r/stale-file" ] && [ -f "$tmp/r/index.html" ] && ok "a rerun replaces the report" \
  || bad "the rerun did not replace the folder"

# without gnuplot: data and scripts, and a plain note
PATH=/nonexistent "$valley" check --quick --only thm2-wbar --out "$tmp/ng" > "$tmp/ng.txt" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q "not rendered" "$tmp/ng.txt" && [ -f "$tmp/ng/figures/thm2-figure5.gp" ] \
   && [ ! -e "$tmp/ng/figures/thm2-figure5.png" ] && grep -q "not rendered" "$tmp/ng/index.html"; then
  ok "without gnuplot: scripts and data written, the report says the pictures were not rendered"
else
  bad "without gnuplot (exit $rc)"
fi

# bad arguments: exit 2, one line, no folder
while IFS='|' read -r what args; do
  "$valley" check $args --out "$tmp/bad" > /dev/null 2> "$tmp/bad.err"
  rc=$?
  if [ $rc -eq 2 ] && [ ! -e "$tmp/bad" ] && [ "$(wc -l < "$tmp/bad.err")" -eq 1 ]; then
    ok "$what: exit 2, $(cat "$tmp/bad.err")"
  else
    bad "$what: exit $rc"
  fi
done <<'EOF2'
unknown check|--quick --only no-such-check
two scales|--quick --full
negative threads|--quick --threads -1
unknown option|--quick --frobnicate
EOF2
touch "$tmp/afile"
"$valley" check --quick --out "$tmp/afile" > /dev/null 2> "$tmp/bad.err"
[ $? -eq 2 ] && ok "--out a file: exit 2, $(cat "$tmp/bad.err")" || bad "--out a file"

[ $fail -eq 0 ] && echo "all passed" || echo "some failed"
exit $fail
