#!/usr/bin/env python3
"""A random ranking for `vecro eval`: the chance level a method must beat.

    vecro eval CORPUS --method-cmd 'python3 scripts/eval/random_rank.py {dataset} {case}' --name random

It shuffles the services of the blinded dataset's manifest, seeded by the
case id, so a rerun gives the same answers. Over many cases its Avg@5 is
the corpus's chance level (vecro eval prints that too).
"""
import json
import os
import random
import sys

dataset, case = sys.argv[1], sys.argv[2]
with open(os.path.join(dataset, "manifest.json")) as f:
    services = [s["name"] for s in json.load(f)["system"]["services"]]
rng = random.Random(case)
rng.shuffle(services)
print(json.dumps({"ranks": services}))
