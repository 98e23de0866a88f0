#!/usr/bin/env python3
"""Prints the table of Tests/bench/compare.sh from its runs file (.build/bench-results/
compare/runs.jsonl.txt: one line per run, "SERVER CLIENTS RATE LOADAVG {bench JSON}"),
medians of the repeats, with Hyphae's ratio to nchan. Run it again on a kept file to
reprint a table:  python3 Tests/bench/compare_table.py RUNS_FILE
"""
import json, statistics, sys
runs = {}
loads = []
for line in open(sys.argv[1]):
    server, clients, rate, load, text = line.split(" ", 4)
    key = (int(clients), float(rate))
    if key not in loads:
        loads.append(key)
    report = json.loads(text)
    expected = report["subscribed"] * float(rate) * report["window_seconds"]
    report["delivery"] = report["frames"] / expected if expected > 0 else 0
    report["load"] = float(load)
    runs.setdefault((key, server), []).append(report)

def median(reports, field):
    values = [r[field] for r in reports if r.get(field) is not None]
    return statistics.median(values) if values else None

def show(value, unit, digits=2):
    return "–" if value is None else ("%." + str(digits) + "f%s") % (value, unit)

def ratio(h, n):
    return "–" if h is None or not n else "%.2f×" % (h / n)

print("| load | server | subscribed | delivery | gaps | latency p50 / p99 | CPU per frame (user + system) | RSS per connection | load average |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for key in loads:
    clients, rate = key
    name = "%d × %s" % (clients, "idle (0.1 Hz)" if rate < 1 else "%g Hz" % rate)
    figures = {}
    for server in ("nchan", "hyphae"):
        reports = runs.get((key, server), [])
        if not reports:
            continue
        f = {field: median(reports, field) for field in (
            "delivery", "latency_ms_p50", "latency_ms_p99", "host_cpu_us_per_frame", "host_rss_bytes_per_connection",
            "host_cpu_user_seconds", "host_cpu_system_seconds", "load", "subscribed")}
        f["gaps"] = sum(r["gaps"] for r in reports)
        f["errors"] = sum(r["errors"] for r in reports)
        f["runs"] = len(reports)
        cpu_each = ", ".join(show(r["host_cpu_us_per_frame"], "") for r in reports)
        p99_each = ", ".join(show(r["latency_ms_p99"], "", 1) for r in reports)
        loads_each = ", ".join("%.1f" % r["load"] for r in reports)
        user, system = f["host_cpu_user_seconds"], f["host_cpu_system_seconds"]
        split = "" if not user and not system else " (%d %% system)" % round(100 * system / (user + system))
        rss = None if f["host_rss_bytes_per_connection"] is None else f["host_rss_bytes_per_connection"] / 1024
        print("| %s | %s | %d | %s | %d | %s / %s ms (p99: %s) | %s µs (%s)%s | %s | %s |" % (
            name, server, f["subscribed"], show(f["delivery"], "", 3), f["gaps"], show(f["latency_ms_p50"], ""), show(f["latency_ms_p99"], ""),
            p99_each, show(f["host_cpu_us_per_frame"], ""), cpu_each, split, show(rss, " KiB"), loads_each))
        figures[server] = (f, rss)
    if "nchan" in figures and "hyphae" in figures:
        (h, hrss), (n, nrss) = figures["hyphae"], figures["nchan"]
        print("| %s | **Hyphae / nchan** | | | | %s / %s | **%s** | **%s** | |" % (
            name, ratio(h["latency_ms_p50"], n["latency_ms_p50"]), ratio(h["latency_ms_p99"], n["latency_ms_p99"]),
            ratio(h["host_cpu_us_per_frame"], n["host_cpu_us_per_frame"]), ratio(hrss, nrss)))
