#!/usr/bin/env python3
"""Prints one trace of otlp_receiver.py's spans file as an indented tree.

usage: trace_tree.py SPANS_FILE TRACE_ID
Each line: name (kind, service) +start ms from the root, then the waits and places the runtime
records (outbox, broker, partition, offset, decision). Ends with the span, root and orphan counts.
"""
import json
import sys

ATTRIBUTES = {"saga.outbox.wait_ms": "outbox", "saga.broker.wait_ms": "broker",
              "messaging.destination.partition.id": "partition", "messaging.kafka.offset": "offset",
              "saga.decision": "decision"}


def main():
    path, trace = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as lines:
        spans = [span for span in map(json.loads, lines) if span["traceId"] == trace]
    if not spans:
        sys.exit(f"no span of trace {trace} in {path}")
    ids = {span["spanId"] for span in spans}
    children = {}
    for span in spans:
        children.setdefault(span["parentSpanId"], []).append(span)
    start = min(span["startUnixNano"] for span in spans)

    def show(span, depth):
        found = span["attributes"]
        extra = " ".join(f"{name}={found[key]}" + ("ms" if key.endswith("_ms") else "")
                         for key, name in ATTRIBUTES.items() if key in found)
        print(f"{'  ' * depth}{span['name']} ({span['kind']}, {span['service']}) "
              f"+{(span['startUnixNano'] - start) / 1e6:.1f} ms {extra}".rstrip())
        for child in sorted(children.get(span["spanId"], []), key=lambda child: child["startUnixNano"]):
            show(child, depth + 1)

    for root in children.get("", []):
        show(root, 0)
    orphans = [span for span in spans if span["parentSpanId"] and span["parentSpanId"] not in ids]
    print(f"{len(spans)} spans, {len(children.get('', []))} root, {len(orphans)} orphans")


if __name__ == "__main__":
    main()
