#!/usr/bin/env python3
"""Mean batch sizes over the cost benchmark's window, from two /metrics samples.

Each sample line is "service series value" for the services' messaging_batch_size_{sum,count}
(records per consumer batch, per group) and messaging_group_commit_size_{sum,count} (units of
work per group-commit transaction, per writer). Prints JSON: per service and series, the mean
size over the window and how many batches each order caused.
"""
import argparse
import json
import re
import sys

SERIES = re.compile(r"^(messaging_(?:batch_size|group_commit_size))_(sum|count)(\{.*\})?$")


def read(path):
    values = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 3:
                continue
            service, series, value = parts
            match = SERIES.match(series)
            if not match:
                continue
            name, kind, labels = match.group(1), match.group(2), match.group(3) or ""
            values[(service, name + labels, kind)] = float(value)
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("start")
    parser.add_argument("end")
    parser.add_argument("--orders", type=float, required=True, help="orders in the window")
    args = parser.parse_args()
    try:
        first, last = read(args.start), read(args.end)
    except OSError as error:
        sys.exit(f"batch_sizes: {error}")
    result = {}
    for (service, series, kind), value in sorted(last.items()):
        if kind != "count":
            continue
        batches = value - first.get((service, series, "count"), 0.0)
        if batches <= 0:
            continue
        items = last.get((service, series, "sum"), 0.0) - first.get((service, series, "sum"), 0.0)
        result.setdefault(service, {})[series] = {
            "meanSize": round(items / batches, 3),
            "batchesPerOrder": round(batches / args.orders, 3) if args.orders else None,
        }
    json.dump(result, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
