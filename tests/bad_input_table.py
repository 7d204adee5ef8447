#!/usr/bin/env python3
"""The bad-input table of docs/reliability.md, as Markdown, from the results that
tests/test_bad_input.sh writes (--results FILE): kind, command, the message valley printed and
its exit status, one row per line of tests/bad_inputs.tsv.

    tests/test_bad_input.sh build/valley --results /tmp/bad.tsv
    python3 tests/bad_input_table.py /tmp/bad.tsv > table.md
    python3 tests/bad_input_table.py /tmp/bad.tsv --into docs/reliability.md

--into replaces the text between the markers <!-- bad-input-table --> and
<!-- /bad-input-table --> of that file."""
import sys


def cell(text):
    return text.replace("|", "\\|").replace("\n", " ")


def table(path):
    rows = ["| # | kind | command | message (stderr) | status |", "|---|---|---|---|---|"]
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            kind, args, status, message = line.rstrip("\n").split("\t", 3)
            cmd = ("valley " + args.strip()).strip()
            rows.append("| %d | %s | `%s` | %s | %s |" % (i, cell(kind), cell(cmd),
                                                         cell(message), status))
    return "\n".join(rows) + "\n"


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--into"):
        sys.exit("usage: bad_input_table.py RESULTS.tsv [--into DOC.md]")
    text = table(argv[1])
    if len(argv) == 2:
        sys.stdout.write(text)
        return
    begin, end = "<!-- bad-input-table -->", "<!-- /bad-input-table -->"
    doc = open(argv[3], encoding="utf-8").read()
    a, b = doc.index(begin) + len(begin), doc.index(end)
    with open(argv[3], "w", encoding="utf-8") as f:
        f.write(doc[:a] + "\n" + text + doc[b:])


if __name__ == "__main__":
    main(sys.argv)
