#!/usr/bin/env python3
"""The plot of a bench/http run: successful (2xx) answers per second and p99 latency against wrk connections, for each series
(server GET, nginx GET, server POST per synchronous setting), as a standalone SVG. Standard library only.

usage: plot.py RESULTS_CSV OUT_SVG [--meta META_TXT]
"""
import argparse
import csv
import json
import math
from xml.sax.saxutils import escape

COLOURS = {("nginx", "GET"): "#7f7f7f", ("server", "GET"): "#1f77b4", ("server", "POST", "full"): "#d62728",
           ("server", "POST", "normal"): "#ff7f0e"}
DASH = {("nginx", "GET"): "6,4"}


def nice_step(span, ticks=5):
    raw = span / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


def fmt_tick(v):
    if v >= 1000:
        return f"{v / 1000:g}k"
    return f"{v:g}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("csv")
    parser.add_argument("svg")
    parser.add_argument("--meta")
    parser.add_argument("--floors", help='JSON {"full": raw/s, "normal": raw/s, "full/16": raw/s at 16 a '
                        'transaction, ...}: drawn as dotted lines')
    args = parser.parse_args()
    floors = {}
    if args.floors:
        try:
            with open(args.floors) as f:
                floors = {k: float(v) for k, v in json.load(f).items()}
        except (OSError, ValueError):
            floors = {}
    meta = {}
    if args.meta:
        with open(args.meta) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("=")
                meta[k] = v
    series = {}
    with open(args.csv) as f:
        for r in csv.DictReader(f):
            if r["phase"] != "sweep":
                continue
            key = (r["server"], r["method"]) if r["server"] == "nginx" or r["method"] == "GET" else (
                r["server"], r["method"], r["sync"])
            series.setdefault(key, []).append((int(r["connections"]), float(r.get("ok_rps") or r["rps"]), float(r["p99_ms"]),
                                               int(r["requests"])))
    conns = sorted({c for pts in series.values() for c, *_ in pts})
    if not conns:
        raise SystemExit("plot.py: no sweep rows in " + args.csv)

    def label(key):
        if key[0] == "nginx":
            return "nginx, static file (GET)"
        if key[1] == "GET":
            return "allocation-server GET /allocations/<id>"
        return f"allocation-server POST /allocate (synchronous={key[2]})"

    W, H = 960, 430
    panel_w, panel_h, top, left_pad = 380, 270, 60, 70
    rates = [r for pts in series.values() for _, r, _, n in pts if r > 0 and n > 0] + list(floors.values())
    rate_log = bool(rates) and max(rates) / min(rates) > 30  # a linear axis would flatten the slower series to 0
    panels = [(left_pad, "2xx answers per second" + (" (log scale)" if rate_log else ""), rate_log, "rps"),
              (left_pad + panel_w + 100, "p99 latency (ms, log scale)", True, "p99")]
    order = [("server", "GET"), ("nginx", "GET"), ("server", "POST", "full"), ("server", "POST", "normal")]
    series = dict(sorted(series.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>']
    title = (f"allocation-server against nginx: wrk, "
             f"{meta.get('duration_s', '?')} s per point, {meta.get('cores', '?')} cores shared by wrk and the server")
    out.append(f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="14">{escape(title)}</text>')
    sub = (f"commit {meta.get('commit', '?')}, {meta.get('date', '')}; only 2xx answers counted; "
           "wrk -t2 (-t1 at one connection)")
    out.append(f'<text x="{W / 2}" y="42" text-anchor="middle" fill="#555">{escape(sub)}</text>')

    def xpos(x0, c):
        i = conns.index(c)
        return x0 + (i + 0.5) * panel_w / len(conns)

    def value(point, what):
        _, rps, p99, _ = point
        return rps if what == "rps" else p99

    for x0, ytitle, log, what in panels:
        if log:
            values = [value(pt, what) for pts in series.values() for pt in pts if value(pt, what) > 0 and pt[3] > 0]
            lo = 10 ** math.floor(math.log10(min(values))) if values else 0.1
            hi = 10 ** math.ceil(math.log10(max(values))) if values else 10
            if hi <= lo:
                hi = lo * 10
            ticks = [lo * 10 ** k for k in range(int(round(math.log10(hi / lo))) + 1)]

            def ypos(v, lo=lo, hi=hi):
                return top + panel_h - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * panel_h
        else:
            vmax = max([r for pts in series.values() for _, r, _, _ in pts] + list(floors.values()) + [1])
            step = nice_step(vmax)
            hi = step * math.ceil(vmax / step)
            ticks = [step * k for k in range(int(round(hi / step)) + 1)]

            def ypos(v, hi=hi):
                return top + panel_h - v / hi * panel_h
        out.append(f'<rect x="{x0}" y="{top}" width="{panel_w}" height="{panel_h}" fill="none" stroke="#999"/>')
        for t in ticks:
            y = ypos(t)
            out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + panel_w}" y2="{y:.1f}" stroke="#e5e5e5"/>')
            out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt_tick(t)}</text>')
        for c in conns:
            x = xpos(x0, c)
            out.append(f'<text x="{x:.1f}" y="{top + panel_h + 18}" text-anchor="middle">{c}</text>')
        out.append(f'<text x="{x0 + panel_w / 2}" y="{top + panel_h + 38}" text-anchor="middle">'
                   'wrk connections</text>')
        out.append(f'<text x="{x0 - 52}" y="{top + panel_h / 2}" text-anchor="middle" '
                   f'transform="rotate(-90 {x0 - 52} {top + panel_h / 2})">{escape(ytitle)}</text>')
        if what == "rps":
            for key, rate in sorted(floors.items()):
                if rate <= 0:
                    continue
                sync, _, per_txn = key.partition("/")  # "full", or "full/16": 16 allocations a transaction
                colour = COLOURS.get(("server", "POST", sync), "#2ca02c")
                y = ypos(rate)
                dash = "6,3" if per_txn else "2,3"
                name = f"raw SQLite WAL+{sync.upper()}" + (f", {per_txn} a transaction" if per_txn else "")
                out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + panel_w}" y2="{y:.1f}" stroke="{colour}" '
                           f'stroke-width="1.5" stroke-dasharray="{dash}"/>')
                out.append(f'<text x="{x0 + panel_w - 4}" y="{y - 4:.1f}" text-anchor="end" fill="{colour}" '
                           f'font-size="10">{name}</text>')
        for key, pts in series.items():
            colour = COLOURS.get(key, "#2ca02c")
            pts = sorted(pts)
            coords = []
            for pt in pts:
                c, n, v = pt[0], pt[3], value(pt, what)
                if log and (v <= 0 or n == 0):
                    continue
                coords.append((xpos(x0, c), ypos(v)))
            if not coords:
                continue
            dash = f' stroke-dasharray="{DASH[key]}"' if key in DASH else ""
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="'
                       + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>')
            for x, y in coords:
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')

    ly = top + panel_h + 62
    lx = left_pad
    for i, key in enumerate(series):
        colour = COLOURS.get(key, "#2ca02c")
        x = lx + (i % 2) * 440
        y = ly + (i // 2) * 18
        dash = f' stroke-dasharray="{DASH[key]}"' if key in DASH else ""
        out.append(f'<line x1="{x}" y1="{y - 4}" x2="{x + 26}" y2="{y - 4}" stroke="{colour}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{x + 32}" y="{y}">{escape(label(key))}</text>')
    out.append("</svg>")
    with open(args.svg, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
