"""What the experiments' checkers (tests/exp/NAME.py) share: the report with its CSV files, and
the Wilson score interval (the same formula as valley_exp_wilson, written out independently)."""
import csv, json, math, os


def report(path):
    """The report at path, its CSV files keyed by suffix (NAME_suffix.csv -> "suffix"), and
    rows(suffix): a CSV's data rows as dicts ('#' comment lines skipped)."""
    rep = json.load(open(path))
    prefix = rep["experiment"] + "_"
    files = {}
    for f in rep["files"]:
        base = os.path.basename(f)
        assert base.startswith(prefix) and base.endswith(".csv"), base
        files[base[len(prefix):-4]] = f

    def rows(suffix):
        with open(files[suffix]) as fh:
            return list(csv.DictReader(l for l in fh if not l.startswith("#")))
    return rep, files, rows


def wilson(k, n, z=1.96):
    """Wilson score interval for k successes in n trials; [0, 1] when n = 0."""
    if n == 0:
        return 0.0, 1.0
    p, z2 = k / n, z * z
    c = (p + z2 / (2 * n)) / (1 + z2 / n)
    h = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, c - h), min(1.0, c + h)
