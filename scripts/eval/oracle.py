#!/usr/bin/env python3
"""An oracle for `vecro eval`: ranks the labelled targets first.

    vecro eval CORPUS --method-cmd 'python3 scripts/eval/oracle.py {labels}' --name oracle

It reads the ground truth ({labels}: the case's labels.csv), so its scores
test the scorer, not a method: AC@1 must be 1 on every case an agent
applied a fault in. vecro marks it as an oracle in every output.
"""
import csv
import json
import sys

with open(sys.argv[1], newline="") as f:
    rows = list(csv.DictReader(f))
ranks = []
for r in rows:
    if r["status"] in ("applied", "partial") and r["target"] not in ranks:
        ranks.append(r["target"])
print(json.dumps({"ranks": ranks}))
