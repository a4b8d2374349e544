#!/usr/bin/env python3
"""The summary of a bench/http run: reads OUT_DIR (results.csv, bench_sqlite*.txt, health-*.json, slow-*.json,
meta.txt, server-*-statuses.txt), prints the table of figures and ratios against the targets, and writes the same
as Markdown to OUT_DIR/summary.md, and the raw SQLite floors to OUT_DIR/floors.json for plot.py ({"full": 1/txn,
"full/16": 16 a transaction, ...}). POST is given against both floors bench_sqlite measures: one transaction an
allocation, and 16 a transaction (each in its own savepoint, one COMMIT), as the server's group commit writes them.

usage: report.py OUT_DIR        Standard library only.
"""
import csv
import json
import os
import re
import sys

GET_RATIO_TARGET = 0.50   # GET at least 50% of nginx's rate ...
GET_P99_TARGET_MS = 5.0   # ... with p99 under 5 ms, at 16 connections
POST_RATIO_TARGET = 0.60  # POST at least 60% of raw SQLite with the same synchronous setting
SLOW_DROP_TARGET = 0.20   # with 64 slow clients, GET drops by less than 20% ...
HEALTH_TARGET_MS = 100.0  # ... and /health answers in under 100 ms


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def load_meta(out):
    meta = {}
    try:
        with open(os.path.join(out, "meta.txt")) as f:
            for line in f:
                key, _, value = line.rstrip("\n").partition("=")
                meta[key] = value
    except OSError:
        pass
    return meta


# bench_sqlite's grouped floor: "  WAL+FULL   16/txn     3834/s (CPU time    13217/s)   1/txn      318/s   12.06x"
GROUPED_LINE = re.compile(r"^\s*WAL\+(NORMAL|FULL)\s+(\d+)/txn\s+(\d+)/s\s+\(CPU time\s+(\d+)/s\)")


def load_floors(out):
    """{"normal": {"raw": wall/s, "adapter": wall/s, "raw_cpu": ..., "runs": [raw wall/s per run], and when bench_sqlite
    measured it the grouped floor: "grouped": wall/s, "grouped_cpu": ..., "grouped_runs": [...], "per_txn": 16},
    "full": ...}: the mean over the bench_sqlite runs of the run (each one the median of its own three)."""
    runs, grouped = {}, {}
    names = {"WAL+NORMAL": "normal", "WAL+FULL": "full"}
    for name in sorted(os.listdir(out)):
        if not (name.startswith("bench_sqlite") and name.endswith(".txt")):
            continue
        try:
            with open(os.path.join(out, name)) as f:
                for line in f:
                    m = GROUPED_LINE.match(line)
                    if m:
                        grouped.setdefault(m.group(1).lower(), []).append(
                            (int(m.group(2)), float(m.group(3)), float(m.group(4))))
                        continue
                    parts = [p.split() for p in line.split("|")]
                    if len(parts) == 3 and parts[0] and parts[0][0] in names:
                        wall, cpu = parts[1], parts[2]
                        runs.setdefault(names[parts[0][0]], []).append(
                            (float(wall[0]), float(wall[1]), float(cpu[0]), float(cpu[1])))
        except (OSError, ValueError, IndexError):
            pass
    floors = {}
    for sync, values in runs.items():
        mean = [sum(v[i] for v in values) / len(values) for i in range(4)]
        floors[sync] = {"adapter": mean[0], "raw": mean[1], "adapter_cpu": mean[2], "raw_cpu": mean[3],
                        "runs": [v[1] for v in values]}
    for sync, values in grouped.items():
        if sync in floors:
            floors[sync].update({"per_txn": values[0][0], "grouped": sum(v[1] for v in values) / len(values),
                                 "grouped_cpu": sum(v[2] for v in values) / len(values),
                                 "grouped_runs": [v[1] for v in values]})
    return floors


def fmt_rate(x):
    return f"{x:,.0f}" if x is not None else "n/a"


def fmt_ms(x):
    if x is None:
        return "n/a"
    return f"{x:.2f}" if x < 10 else f"{x:.0f}" if x >= 100 else f"{x:.1f}"


def pct(x):
    return f"{100 * x:.0f}%" if x is not None else "n/a"


def share(x):
    """A share of a floor: 85% below it, 1.6x above it."""
    if x is None:
        return "n/a"
    return f"{x:.1f}x" if x > 1 else pct(x)


def verdict(ok):
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def main():
    out = sys.argv[1]
    meta = load_meta(out)
    with open(os.path.join(out, "results.csv")) as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in ("rps", "ok_rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "cpu_pct"):
            r[k] = float(r[k])
        for k in ("connections", "requests", "non2xx", "connect_errors", "read_errors", "write_errors", "timeouts"):
            r[k] = int(r[k])
    floors = load_floors(out)
    with open(os.path.join(out, "floors.json"), "w") as f:  # for plot.py
        figures = {k: v["raw"] for k, v in floors.items()}
        figures.update({f"{k}/{v['per_txn']}": v["grouped"] for k, v in floors.items() if v.get("grouped")})
        json.dump(figures, f)

    def row(server, method, conns, phase="sweep", sync=None):
        for r in rows:
            if (r["server"] == server and r["method"] == method and r["connections"] == conns and r["phase"] == phase
                    and (sync is None or r["sync"] == sync)):
                return r
        return None

    syncs = [s for s in meta.get("sync_settings", "full").split() if s]
    get_sync = syncs[0] if syncs else None
    kind = meta.get("server_kind", "?")
    table = []  # (measurement, server figure, floor figure, ratio, ratio to the grouped floor, target, verdict)

    for conns in (16, 64):
        s, n = row("server", "GET", conns), row("nginx", "GET", conns)
        if not s or not n:
            continue
        ratio = s["ok_rps"] / n["ok_rps"] if n["ok_rps"] else None
        target = f">= {GET_RATIO_TARGET:.0%} of nginx, p99 < {GET_P99_TARGET_MS:g} ms" if conns == 16 else "(none)"
        ok = (ratio is not None and ratio >= GET_RATIO_TARGET and s["p99_ms"] < GET_P99_TARGET_MS
              and s["requests"] > 0) if conns == 16 else None
        table.append((f"GET /allocations/<id>, {conns} connections",
                      f"{fmt_rate(s['ok_rps'])} req/s, p99 {fmt_ms(s['p99_ms'])} ms",
                      f"nginx {fmt_rate(n['ok_rps'])} req/s, p99 {fmt_ms(n['p99_ms'])} ms",
                      pct(ratio), "", target, verdict(ok)))

    def floor_ratio(rate, sync, key="raw", runs_key="runs"):
        """The share of the mean floor (one transaction an allocation, or with key="grouped" the grouped floor), and
        its range over the floor's runs when there are several."""
        f = floors.get(sync)
        if not f or not f.get(key):
            return "n/a"
        text = share(rate / f[key])
        runs = [r for r in f.get(runs_key, []) if r > 0]
        if len(runs) > 1:
            text += f" ({share(rate / max(runs))}-{share(rate / min(runs))})"
        return text

    def floor_text(sync):
        f = floors.get(sync, {})
        text = f"raw SQLite WAL+{sync.upper()} {fmt_rate(f.get('raw'))}/s"
        if f.get("grouped"):
            text += f"; {f['per_txn']}/txn {fmt_rate(f['grouped'])}/s"
        return text

    for sync in syncs:
        floor = floors.get(sync, {}).get("raw")
        for conns in (16, 64):
            s = row("server", "POST", conns, sync=sync)
            if not s:
                continue
            ratio = s["ok_rps"] / floor if floor else None
            ok = (ratio is not None and ratio >= POST_RATIO_TARGET) if conns == 16 else None
            table.append((f"POST /allocate, synchronous={sync}, {conns} connections",
                          f"{fmt_rate(s['ok_rps'])} req/s, p99 {fmt_ms(s['p99_ms'])} ms", floor_text(sync),
                          floor_ratio(s["ok_rps"], sync), floor_ratio(s["ok_rps"], sync, "grouped", "grouped_runs"),
                          f">= {POST_RATIO_TARGET:.0%} of raw (1/txn)" if conns == 16 else "(none)", verdict(ok)))
        posts = [r for r in rows if r["method"] == "POST" and r["sync"] == sync and r["phase"] == "sweep"]
        if posts and floor:
            best = max(posts, key=lambda r: r["ok_rps"])
            table.append((f"POST /allocate, synchronous={sync}, best ({best['connections']} connections)",
                          f"{fmt_rate(best['ok_rps'])} req/s, p99 {fmt_ms(best['p99_ms'])} ms",
                          floor_text(sync), floor_ratio(best["ok_rps"], sync),
                          floor_ratio(best["ok_rps"], sync, "grouped", "grouped_runs"), "", ""))

    refs = [r for r in (row("server", "GET", 16, "reference"), row("server", "GET", 16, "reference-after")) if r]
    slow = row("server", "GET", 16, "slow")
    slow_start, slow_end = load_json(os.path.join(out, "slow-start.json")), load_json(os.path.join(out, "slow-end.json"))
    drop = None
    if refs and slow:
        ref_rate = sum(r["ok_rps"] for r in refs) / len(refs)
        drop = 1 - slow["ok_rps"] / ref_rate if ref_rate else None
        table.append((f"GET, 16 connections, {slow_start.get('target', 64)} slow clients open",
                      f"{fmt_rate(slow['ok_rps'])} req/s, p99 {fmt_ms(slow['p99_ms'])} ms",
                      "without (before, after): " + ", ".join(
                          f"{fmt_rate(r['ok_rps'])} req/s p99 {fmt_ms(r['p99_ms'])} ms" for r in refs),
                      f"drop {pct(drop)}", "", f"drop < {SLOW_DROP_TARGET:.0%}",
                      verdict(drop is not None and drop < SLOW_DROP_TARGET)))
    health = {k: load_json(os.path.join(out, f"health-{k}.json")) for k in ("idle", "load", "idle-slow", "load-slow")}
    labels = {"idle": "idle", "load": "under GET load (16 connections)", "idle-slow": "slow clients open, no load",
              "load-slow": "slow clients open and GET load"}
    for key, h in health.items():
        if not h:
            continue
        ok = None
        if key in ("idle-slow", "load-slow"):
            ok = h.get("failures", 1) == 0 and h.get("max_ms") is not None and h["max_ms"] < HEALTH_TARGET_MS
        table.append((f"GET /health, fresh connections, {labels[key]}",
                      f"median {fmt_ms(h.get('median_ms'))} ms, max {fmt_ms(h.get('max_ms'))} ms"
                      + (f", {h['failures']} of {h.get('attempted', h['count'])} failed" if h.get("failures") else "")
                      + (f", only {h['attempted']} of {h['count']} sent in time" if h.get("attempted", h["count"]) < h["count"] else ""),
                      "", "", "", f"< {HEALTH_TARGET_MS:g} ms" if ok is not None else "", verdict(ok)))

    header = ("measurement", "allocation-server", "floor / reference", "ratio; of the 1/txn floor (range over runs)",
              "of the 16/txn floor (range)", "target", "")
    widths = [max(len(str(r[i])) for r in table + [header]) for i in range(len(header))]
    print()
    print(f"== summary: {meta.get('duration_s', '?')} s per run, {meta.get('cores', '?')} cores, "
          f"commit {meta.get('commit', '?')}" + ("" if kind == "new" else " (a server without --queue-limit)"))
    print("  (req/s: 2xx answers per second; p99 over all answers, as wrk measures it; POST against two raw SQLite"
          " floors: 1/txn, one transaction an allocation, and 16/txn, 16 allocations a transaction, each in its own savepoint,"
          " one COMMIT for the 16, as the server's group commit writes them; 1.6x: 1.6 times the floor)")
    for r in [header] + table:
        print("  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    notes = []
    if slow_start or slow_end:
        span = slow_end.get("time", 0) - slow_start.get("time", 0)
        mean_open = (slow_end.get("open_seconds", 0) - slow_start.get("open_seconds", 0)) / span if span > 0 else None
        closed = slow_end.get("closed_by_server", 0) - slow_start.get("closed_by_server", 0)
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(slow_end.get("answers", {}).items()))
        notes.append(f"slow clients during the slow-client GET run: {slow_start.get('open', '?')} open at its start, "
                     f"{slow_end.get('open', '?')} at its end, "
                     + (f"{mean_open:.1f} on average; " if mean_open is not None else "; ")
                     + f"{closed} closed by the server meanwhile; in all {slow_end.get('closed_by_server', 0)} closed"
                     f" ({slow_end.get('answered', 0)} with an answer{': ' + answers if answers else ''}),"
                     f" {slow_end.get('opened', 0)} opened, {slow_end.get('connect_failures', 0)} connects failed")
    if floors:
        notes.append("raw SQLite floor (bench_sqlite, wall time, mean of the run's invocations): " + "; ".join(
            f"WAL+{k.upper()} {fmt_rate(v['raw'])}/s (runs: {', '.join(fmt_rate(x) for x in v['runs'])}; "
            f"CPU-time rate {fmt_rate(v['raw_cpu'])}/s), the adapter through the bus in-process {fmt_rate(v['adapter'])}/s"
            + (f"; {v['per_txn']} allocations a transaction, each in a savepoint: {fmt_rate(v['grouped'])}/s (runs: "
               f"{', '.join(fmt_rate(x) for x in v['grouped_runs'])}; CPU-time rate {fmt_rate(v['grouped_cpu'])}/s)"
               if v.get("grouped") else "")
            for k, v in sorted(floors.items())))
    for r in rows:
        errors = r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]
        if r["non2xx"] or errors or r["requests"] == 0:
            notes.append(f"{r['server']} {r['method']} c{r['connections']} ({r['phase']}, sync {r['sync']}): "
                         f"{r['requests']:,} answers ({fmt_rate(r['rps'])}/s), {r['non2xx']:,} of them non-2xx "
                         f"(not counted in req/s; their latencies are in p99), socket errors connect {r['connect_errors']}"
                         f" read {r['read_errors']} write {r['write_errors']} timeout {r['timeouts']}")
    for sync in syncs:
        path = os.path.join(out, f"server-{sync}-statuses.txt")
        if os.path.exists(path):
            with open(path) as f:
                counts = [line.split() for line in f if line.strip()]
            if counts:
                notes.append(f"server log (synchronous={sync}): " + ", ".join(f"{m} {s}: {int(n):,}" for m, s, n in counts))
    for conns in (16, 64):
        s, n = row("server", "GET", conns), row("nginx", "GET", conns)
        if s and n and s["ok_rps"] and n["ok_rps"]:
            notes.append(f"CPU per GET answer at {conns} connections: allocation-server "
                         f"{s['cpu_pct'] * 1e4 / s['ok_rps']:.0f} us ({s['cpu_pct']:.0f}% of a core), nginx "
                         f"{n['cpu_pct'] * 1e4 / n['ok_rps']:.0f} us ({n['cpu_pct']:.0f}%); wrk {s['wrk_cpu_pct']}% and "
                         f"{n['wrk_cpu_pct']}%")
    notes.append(f"load: {meta.get('uptime_start', '').strip()}  ->  {meta.get('uptime_end', '').strip()}")
    others = sorted(float(r["other_cpu_pct"]) for r in rows if r.get("other_cpu_pct") not in (None, ""))
    if others:
        notes.append(f"CPU taken by other processes during the wrk runs (machine busy time less server/nginx and wrk, "
                     f"in % of one core): median {others[len(others) // 2]:.0f}%, max {others[-1]:.0f}% "
                     f"(per run in results.csv)")
    for n in notes:
        print("  - " + n)

    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("| " + " | ".join(header[:6]) + " | status |\n")
        f.write("| --- | ---: | ---: | ---: | ---: | --- | --- |\n")
        for r in table:
            f.write("| " + " | ".join(str(c) for c in r) + " |\n")
        f.write("\n")
        for n in notes:
            f.write(f"- {n}\n")

    # The sweep, as a compact table: req/s and p99 per connection count.
    sweep = {}
    for r in rows:
        if r["phase"] == "sweep":
            sweep.setdefault((r["server"], r["method"], r["sync"]), {})[r["connections"]] = r
    conns = sorted({r["connections"] for r in rows if r["phase"] == "sweep"})
    print("\n== req/s (p99 ms) against connections")
    print("  " + "series".ljust(22) + "".join(f"c={c}".rjust(20) for c in conns))
    for (server, method, sync), by in sweep.items():
        name = f"{server} {method}" + (f" {sync}" if server != "nginx" else "")
        print("  " + name.ljust(22) + "".join(
            (f"{fmt_rate(by[c]['ok_rps'])} ({fmt_ms(by[c]['p99_ms'])})" if c in by else "").rjust(20) for c in conns))
    with open(os.path.join(out, "summary.md"), "a") as f:
        f.write("\n| series | " + " | ".join(f"c={c}" for c in conns) + " |\n")
        f.write("| --- |" + " ---: |" * len(conns) + "\n")
        for (server, method, sync), by in sweep.items():
            name = f"{server} {method}" + (f" {sync}" if server != "nginx" else "")
            f.write(f"| {name} | " + " | ".join(
                f"{fmt_rate(by[c]['ok_rps'])} ({fmt_ms(by[c]['p99_ms'])} ms)" if c in by else "" for c in conns) + " |\n")


if __name__ == "__main__":
    main()
