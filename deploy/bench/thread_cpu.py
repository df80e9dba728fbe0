#!/usr/bin/env python3
"""CPU ms per order of each thread group of each process, from two samples of cost-bench.sh.

    thread_cpu.py START END --rate R --window S --ticks HZ

A sample holds one line per thread: `process tid ticks name` (utime+stime of
/proc/PID/task/TID/stat; the name is the thread's comm, at most 15 characters, which for
Dispatch's threads is the end of the queue's label). Threads are grouped by name with digits
folded to '#' (rdk:broker1 and rdk:broker2 are one group). A thread born inside the window counts
from zero; a thread that ended inside it is missing from the end sample, so a process's groups
can add up to a little less than its total. Prints JSON: {process: {group: ms per order}}.
"""
import argparse
import json
import re
import sys
from collections import defaultdict


def read(path):
    threads = {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split(" ", 3)
            if len(parts) == 4 and parts[2].isdigit():
                threads[(parts[0], parts[1])] = (int(parts[2]), parts[3])
    return threads


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("start")
    parser.add_argument("end")
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--window", type=float, required=True)
    parser.add_argument("--ticks", type=float, required=True)
    args = parser.parse_args()
    try:
        start, end = read(args.start), read(args.end)
    except OSError as error:
        sys.exit(f"thread_cpu: {error}")
    orders = args.rate * args.window
    groups = defaultdict(lambda: defaultdict(float))
    for (process, tid), (ticks, name) in end.items():
        before = start.get((process, tid), (0, name))[0]
        group = re.sub(r"[0-9]+", "#", name)
        groups[process][group] += (ticks - before) / args.ticks * 1000 / orders
    result = {process: dict(sorted(((g, round(v, 4)) for g, v in by.items()), key=lambda item: -item[1]))
              for process, by in groups.items()}
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
