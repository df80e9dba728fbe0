#!/usr/bin/env python3
"""Where the PostgreSQL server's time went in deploy/cost-bench.sh's steady window, per order.

    pg_breakdown.py XACT_START XACT_END [STATEMENTS_JSON] [--tables START END] --orders N

XACT_START / XACT_END: "database|transactions" lines from pg_stat_database at the window's
edges. STATEMENTS_JSON: pg_stat_statements over the window (reset at its start), a JSON array of
{database, calls, exec_ms, rows, query}; absent when the extension is not loaded. Prints one
JSON object: per service database, transactions, statements and execution ms per order; and the
statements that cost the most execution time per order. --tables: "database|table|seq_scan|
seq_tup_read|idx_scan" lines of pg_stat_user_tables at the window's edges; the tables read by
whole-table scans in the window, with scans and rows read per order (a plan that scans where
an index would do shows here; a table of a few rows is scanned on purpose).
"""
import argparse
import json
import sys


def counters(path):
    result = {}
    with open(path) as f:
        for line in f:
            name, _, value = line.strip().partition("|")
            if name and value:
                result[name] = int(value)
    return result


def table_counters(path):
    result = {}
    with open(path) as f:
        for line in f:
            fields = line.strip().split("|")
            if len(fields) == 5:
                result[(fields[0], fields[1])] = tuple(int(value) for value in fields[2:])
    return result


def whole_table_scans(start_path, end_path, per_order):
    start, end = table_counters(start_path), table_counters(end_path)
    scans = []
    for key, (seq_scan, rows_read, index_scans) in end.items():
        before = start.get(key, (0, 0, 0))
        if seq_scan > before[0]:
            scans.append({"service": service(key[0]), "table": key[1],
                          "scansPerOrder": per_order(seq_scan - before[0]),
                          "rowsReadPerOrder": per_order(rows_read - before[1]),
                          "indexScansPerOrder": per_order(index_scans - before[2])})
    return sorted(scans, key=lambda row: row["rowsReadPerOrder"], reverse=True)


def service(database):
    return database.removeprefix("saga_")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("xact_start")
    parser.add_argument("xact_end")
    parser.add_argument("statements", nargs="?")
    parser.add_argument("--tables", nargs=2, metavar=("START", "END"))
    parser.add_argument("--orders", type=float, required=True)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    start, end = counters(args.xact_start), counters(args.xact_end)
    per_order = lambda value: round(value / args.orders, 3)
    result = {"transactionsPerOrder": {service(d): per_order(end[d] - start.get(d, 0)) for d in sorted(end)
                                       if end[d] > start.get(d, 0)}}
    if args.statements:
        with open(args.statements) as f:
            rows = json.load(f) or []
        by_db = {}
        for row in rows:
            entry = by_db.setdefault(service(row["database"]), {"statements": 0, "exec_ms": 0.0})
            entry["statements"] += row["calls"]
            entry["exec_ms"] += row["exec_ms"]
        result["statementsPerOrder"] = {name: per_order(v["statements"]) for name, v in sorted(by_db.items())}
        result["execMsPerOrder"] = {name: per_order(v["exec_ms"]) for name, v in sorted(by_db.items())}
        rows.sort(key=lambda row: row["exec_ms"], reverse=True)
        result["topStatements"] = [
            {"service": service(row["database"]), "callsPerOrder": per_order(row["calls"]),
             "execMsPerOrder": round(row["exec_ms"] / args.orders, 4), "rowsPerCall": round(row["rows"] / max(row["calls"], 1), 1),
             "query": row["query"]}
            for row in rows[:args.top]]
    if args.tables:
        result["wholeTableScans"] = whole_table_scans(*args.tables, per_order)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
