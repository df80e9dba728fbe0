#!/usr/bin/env python3
"""The table and the plot of deploy/cost-bench.sh's cost.json (standard library only).

    cost_report.py cost.json [--svg cost.svg]

The table: one row per rate, then the thread groups that use the CPU of each service. The plot: CPU ms per order against the rate (each service, their
sum, the dev cluster, the load generator, PostgreSQL when present) and p99 accepted→confirmed
of the stack beside the floor's p99, on a log scale.
"""
import argparse
import json
import math
import sys

SERVICES = ["order", "inventory", "payment", "notification"]
COLOURS = {"services": "#111111", "order": "#1f77b4", "inventory": "#2ca02c", "payment": "#d62728",
           "notification": "#9467bd", "dev-cluster": "#8c564b", "loadgen": "#7f7f7f", "postgres": "#e377c2",
           "stack p99": "#111111", "floor p99": "#ff7f0e", "stack p50": "#1f77b4"}


def fmt(value, digits=2):
    return "-" if value is None else f"{value:.{digits}f}"


def table(report):
    runs = report["runs"]
    extra = ["postgres"] if any("postgres" in run["cpuMsPerOrder"] for run in runs) else []
    # The PostgreSQL floor's server CPU per order (deploy/bench/pg-floor.sh), beside the stack's.
    pg_floor = ["pg floor ms"] if any((run.get("pgFloor") or {}).get("serverCpuMsPerOrder") is not None for run in runs) else []
    # The Kafka floor's clients (its four stages and driver) and mock cluster, per message.
    kafka_floor = (["floor clients ms", "floor cluster ms"]
                   if any((run.get("floor") or {}).get("clientsCpuMsPerMessage") is not None for run in runs) else [])
    head = (["rate", "achieved", "audit"] + [f"{s} ms" for s in SERVICES] + ["4 services ms", "dev-cluster ms", "loadgen ms"]
            + [f"{e} ms" for e in extra] + pg_floor + kafka_floor
            + ["a→c p50", "a→c p99", "notified p99", "floor p50", "floor p99", "p99/floor", "peak RSS MB (o/i/p/n)",
               "idle/stolen cores"])
    rows = []
    for run in runs:
        cpu, lat, floor = run["cpuMsPerOrder"], run["latencyMs"], run.get("floor") or {}
        rss = run["peakRssMB"]
        rows.append([str(run["rate"]), fmt(run["achievedRate"], 1), "pass" if run["auditPassed"] else "FAIL"]
                    + [fmt(cpu.get(s)) for s in SERVICES]
                    + [fmt(cpu["services"]), fmt(cpu.get("dev-cluster")), fmt(cpu.get("loadgen"))]
                    + [fmt(cpu.get(e)) for e in extra]
                    + [fmt((run.get("pgFloor") or {}).get("serverCpuMsPerOrder")) for _ in pg_floor]
                    + ([fmt(floor.get("clientsCpuMsPerMessage")), fmt(floor.get("clusterCpuMsPerMessage"))] if kafka_floor else [])
                    + [fmt(lat["acceptedToConfirmed"]["p50"], 1), fmt(lat["acceptedToConfirmed"]["p99"], 1),
                       fmt(lat["notified"]["p99"], 1), fmt(floor.get("p50Ms"), 1), fmt(floor.get("p99Ms"), 1),
                       fmt(run.get("p99OverFloor"), 1), "/".join(fmt(rss.get(s), 0) for s in SERVICES),
                       "/".join(fmt((run.get("machine") or {}).get(k)) for k in ("idleCores", "stealCores"))])
    widths = [max(len(head[i]), *(len(r[i]) for r in rows)) for i in range(len(head))]
    # The dev cluster's partitions per topic (older cost.json files have none).
    partitions = f", {report['partitions']} partitions" if report.get("partitions") else ""
    lines = [f"cost per order ({report['backend']}, {report['durationSeconds']} s per rate{partitions}; CPU ms per order over the steady window)",
             "  ".join(h.rjust(w) for h, w in zip(head, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def threads(report, top=6):
    """Per rate and service, the thread groups that take the most CPU per order."""
    lines = []
    for run in report["runs"]:
        by_service = run.get("threadCpuMsPerOrder") or {}
        if not by_service:
            continue
        lines.append(f"threads at {run['rate']}/s (CPU ms per order; names folded, digits as #)")
        for service in SERVICES:
            groups = list((by_service.get(service) or {}).items())
            shown = ", ".join(f"{name} {value:.2f}" for name, value in groups[:top])
            rest = sum(value for _, value in groups[top:])
            lines.append(f"  {service:>12}: {shown}" + (f", other {rest:.2f}" if rest else ""))
    return "\n".join(lines)


def batches(report):
    """Per rate, mean records per consumer batch and POSTs per group-commit transaction."""
    lines = []
    for run in report["runs"]:
        by_service = run.get("batches") or {}
        if not by_service:
            continue
        # Records the four consumer groups read per order (the saga's consuming hops).
        consumed = sum(value["meanSize"] * value["batchesPerOrder"]
                       for series in by_service.values() for name, value in series.items()
                       if name.startswith("messaging_batch_size") and value.get("batchesPerOrder") is not None)
        lines.append(f"batches at {run['rate']}/s (mean size over the window; batches per order); "
                     f"{consumed:.2f} records consumed per order")
        for service in SERVICES:
            series = by_service.get(service) or {}
            shown = ", ".join(f"{name.replace('messaging_', '')} {value['meanSize']:.2f} ({fmt(value['batchesPerOrder'])}/order)"
                              for name, value in series.items())
            if shown:
                lines.append(f"  {service:>12}: {shown}")
    return "\n".join(lines)


def database(report):
    """Per rate, the PostgreSQL server's own account (pg_stat_database, pg_stat_statements)."""
    lines = []
    for run in report["runs"]:
        db = run.get("database") or {}
        if not db:
            continue
        lines.append(f"PostgreSQL at {run['rate']}/s, per order (transactions; statements; execution ms)")
        for name, xacts in (db.get("transactionsPerOrder") or {}).items():
            statements = (db.get("statementsPerOrder") or {}).get(name)
            exec_ms = (db.get("execMsPerOrder") or {}).get(name)
            lines.append(f"  {name:>12}: {xacts:.2f} transactions; {fmt(statements)} statements; {fmt(exec_ms, 3)} ms")
        scans = db.get("wholeTableScans")
        if scans is not None:
            shown = "; ".join(f"{row['service']}.{row['table']} {row['scansPerOrder']:.2f}× {row['rowsReadPerOrder']:,.0f} rows"
                              for row in scans[:6]) or "none"
            lines.append(f"  whole-table scans (scans and rows read per order): {shown}")
        top = db.get("topStatements") or []
        if top:
            lines.append("  the statements that took the most execution time (ms per order, calls per order, rows per call):")
        for row in top:
            lines.append(f"    {row['execMsPerOrder']:.4f} ms  {row['callsPerOrder']:.2f}×  {row['rowsPerCall']:.1f} rows  "
                         f"{row['service']}: {row['query'][:110]}")
    return "\n".join(lines)


class Panel:
    """One chart: x is the rate (log scale), y linear or log."""

    def __init__(self, x0, y0, width, height, xs, ymax, ymin=0.0, log_y=False, title="", ylabel=""):
        self.x0, self.y0, self.w, self.h = x0, y0, width, height
        self.xmin, self.xmax = min(xs) / 1.2, max(xs) * 1.2
        self.log_y, self.ymin, self.ymax = log_y, ymin, ymax
        self.title, self.ylabel, self.xs = title, ylabel, xs
        self.parts = []

    def px(self, x):
        span = math.log(self.xmax) - math.log(self.xmin)
        return self.x0 + (math.log(x) - math.log(self.xmin)) / span * self.w

    def py(self, y):
        if self.log_y:
            y = max(y, self.ymin)
            frac = (math.log(y) - math.log(self.ymin)) / (math.log(self.ymax) - math.log(self.ymin))
        else:
            frac = (y - self.ymin) / (self.ymax - self.ymin)
        return self.y0 + self.h - frac * self.h

    def ticks(self):
        if self.log_y:
            ticks, t = [], 10 ** math.floor(math.log10(self.ymin))
            while t <= self.ymax:
                for m in (1, 2, 5):
                    if self.ymin <= t * m <= self.ymax:
                        ticks.append(t * m)
                t *= 10
            return ticks
        step = nice_step(self.ymax / 5)
        return [i * step for i in range(int(self.ymax / step) + 1)]

    def frame(self):
        p = self.parts
        p.append(f'<rect x="{self.x0}" y="{self.y0}" width="{self.w}" height="{self.h}" fill="none" stroke="#999"/>')
        p.append(f'<text x="{self.x0 + self.w / 2}" y="{self.y0 - 10}" text-anchor="middle" font-weight="bold">{self.title}</text>')
        for y in self.ticks():
            yy = self.py(y)
            p.append(f'<line x1="{self.x0}" x2="{self.x0 + self.w}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#eee"/>')
            p.append(f'<text x="{self.x0 - 6}" y="{yy + 4:.1f}" text-anchor="end">{y:g}</text>')
        for x in self.xs:
            xx = self.px(x)
            p.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{self.y0}" y2="{self.y0 + self.h}" stroke="#eee"/>')
            p.append(f'<text x="{xx:.1f}" y="{self.y0 + self.h + 16}" text-anchor="middle">{x}</text>')
        p.append(f'<text x="{self.x0 + self.w / 2}" y="{self.y0 + self.h + 34}" text-anchor="middle">orders/s</text>')
        p.append(f'<text transform="translate({self.x0 - 44},{self.y0 + self.h / 2}) rotate(-90)" text-anchor="middle">{self.ylabel}</text>')

    def series(self, name, points, dashed=False, width=2):
        points = [(x, y) for x, y in points if y is not None]
        if not points:
            return
        colour = COLOURS.get(name, "#000")
        path = " ".join(f"{self.px(x):.1f},{self.py(y):.1f}" for x, y in points)
        dash = ' stroke-dasharray="6,4"' if dashed else ""
        self.parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="{width}"{dash}/>')
        for x, y in points:
            self.parts.append(f'<circle cx="{self.px(x):.1f}" cy="{self.py(y):.1f}" r="3" fill="{colour}"/>')

    def legend(self, names):
        for i, name in enumerate(names):
            y = self.y0 + 14 + i * 16
            x = self.x0 + self.w + 12
            self.parts.append(f'<line x1="{x}" x2="{x + 18}" y1="{y - 4}" y2="{y - 4}" stroke="{COLOURS.get(name, "#000")}" stroke-width="2"/>')
            self.parts.append(f'<text x="{x + 24}" y="{y}">{name}</text>')


def nice_step(raw):
    exponent = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * exponent:
            return m * exponent
    return 10 * exponent


def svg(report):
    runs = sorted(report["runs"], key=lambda r: r["rate"])
    xs = [r["rate"] for r in runs]
    names = ["services"] + SERVICES + ["dev-cluster", "loadgen"]
    if any("postgres" in r["cpuMsPerOrder"] for r in runs):
        names.append("postgres")
    cpu_max = max(r["cpuMsPerOrder"].get(n) or 0 for r in runs for n in names) * 1.15 or 1
    cpu = Panel(70, 40, 420, 300, xs, cpu_max, title="CPU per order (ms)", ylabel="ms of CPU per order")
    cpu.frame()
    for name in names:
        cpu.series(name, [(r["rate"], r["cpuMsPerOrder"].get(name)) for r in runs], dashed=name not in ["services"] + SERVICES,
                   width=3 if name == "services" else 2)
    cpu.legend(names)

    def p(run, key):
        return run["latencyMs"]["acceptedToConfirmed"][key] or None

    values = [v for r in runs for v in (p(r, "p99"), p(r, "p50"), (r.get("floor") or {}).get("p99Ms")) if v]
    lat = Panel(70, 420, 420, 300, xs, max(values) * 1.5, ymin=max(0.5, min(values) / 1.5), log_y=True,
                title="accepted→confirmed vs the floor (ms, log)", ylabel="ms")
    lat.frame()
    lat.series("stack p99", [(r["rate"], p(r, "p99")) for r in runs], width=3)
    lat.series("stack p50", [(r["rate"], p(r, "p50")) for r in runs])
    lat.series("floor p99", [(r["rate"], (r.get("floor") or {}).get("p99Ms")) for r in runs], dashed=True)
    lat.legend(["stack p99", "stack p50", "floor p99"])
    body = "\n".join(cpu.parts + lat.parts)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="640" height="780" font-family="sans-serif" font-size="12">\n'
            f'<rect width="100%" height="100%" fill="white"/>\n{body}\n</svg>\n')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", help="cost.json written by deploy/cost-bench.sh")
    parser.add_argument("--svg", help="write the plot here")
    args = parser.parse_args()
    try:
        with open(args.report) as f:
            report = json.load(f)
    except (OSError, json.JSONDecodeError) as error:
        sys.exit(f"cost_report: cannot read {args.report}: {error}")
    if not report.get("runs"):
        sys.exit(f"cost_report: {args.report} holds no runs")
    print(table(report))
    for section in (threads(report), batches(report), database(report)):
        if section:
            print()
            print(section)
    if args.svg:
        with open(args.svg, "w") as f:
            f.write(svg(report))


if __name__ == "__main__":
    main()
