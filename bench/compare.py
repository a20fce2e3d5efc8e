#!/usr/bin/python3
"""Generic comparison table for benchmark JSON lines.

Usage: compare.py RESULTS.jsonl [METRIC ...]

Groups records by (workload, n) and implementation, takes the median of each
metric over repeats, and prints aio against every peer as a ratio oriented so
that > 1 means aio is better. The metric of a workload is the first of its
keys that ends in "_per_sec" (higher is better) or in "_ns" / "_seconds"
(lower is better), unless METRIC names are given.
"""
import json
import statistics
import sys
from collections import OrderedDict


def pick_metric(record, wanted):
    for key in wanted or record.keys():
        if key in record and (key.endswith("_per_sec") or key.endswith("_ns") or key.endswith("_seconds")):
            return key
    return None


def main(path, wanted):
    groups = OrderedDict()
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                r = json.loads(line)
            except ValueError:
                continue
            groups.setdefault((r.get("workload"), r.get("n")), OrderedDict()).setdefault(r.get("impl"), []).append(r)
    for (workload, n), impls in groups.items():
        any_rec = next(iter(impls.values()))[0]
        metric = pick_metric(any_rec, wanted)
        if metric is None:
            continue
        higher = metric.endswith("_per_sec")
        medians = {}
        for impl, recs in impls.items():
            vals = [r[metric] for r in recs if isinstance(r.get(metric), (int, float))]
            if vals:
                medians[impl] = statistics.median(vals)
        print(f"\n{workload} (n={n}) — {metric} (median of runs; ratio > 1: aio better)")
        aio = medians.get("aio")
        for impl, v in medians.items():
            ratio = ""
            if impl != "aio" and aio and v:
                r = aio / v if higher else v / aio
                ratio = f"   aio is {r:.2f}x"
            print(f"  {impl:<10} {v:>16,.3f}{ratio}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1], sys.argv[2:])
