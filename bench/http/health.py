#!/usr/bin/env python3
"""Latency of GET /health over fresh connections, for bench/http: COUNT requests one after another, each on a
new TCP connection (connect, request, read the whole answer, close), spaced SPREAD/COUNT seconds apart. Every
attempt's time counts in the figures; one that does not answer 200 is also a failure, and one that gets no answer
within TIMEOUT counts as TIMEOUT.

usage: health.py HOST PORT OUT_JSON [--count 50] [--spread 0] [--timeout 1] [--deadline SECONDS]
With --deadline, no request starts after that many seconds (so a server that does not answer cannot hold the run
up for COUNT x TIMEOUT); "attempted" says how many did.
Writes {"count", "attempted", "ok", "failures", "statuses", "median_ms", "p90_ms", "max_ms"}. Standard library only.
"""
import argparse
import http.client
import json
import statistics
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("out_json")
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--spread", type=float, default=0.0, help="seconds over which to spread the requests")
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--deadline", type=float, default=None)
    args = parser.parse_args()

    times_ms, statuses, failures = [], {}, 0
    gap = args.spread / args.count if args.count else 0
    start = time.monotonic()
    attempted = 0
    for i in range(args.count):
        if args.deadline is not None and time.monotonic() - start > args.deadline:
            break
        attempted += 1
        delay = start + i * gap - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection(args.host, args.port, timeout=args.timeout)
        try:
            conn.request("GET", "/health", headers={"Connection": "close"})
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - t0) * 1000
            statuses[str(response.status)] = statuses.get(str(response.status), 0) + 1
            times_ms.append(elapsed)
            if response.status != 200:
                failures += 1
        except (OSError, http.client.HTTPException) as error:
            failures += 1
            statuses[type(error).__name__] = statuses.get(type(error).__name__, 0) + 1
            times_ms.append(min((time.perf_counter() - t0) * 1000, args.timeout * 1000))
        finally:
            conn.close()
    result = {
        "count": args.count,
        "attempted": attempted,
        "ok": attempted - failures,
        "failures": failures,
        "statuses": statuses,
        "median_ms": statistics.median(times_ms) if times_ms else None,
        "p90_ms": sorted(times_ms)[int(0.9 * (len(times_ms) - 1))] if times_ms else None,
        "max_ms": max(times_ms) if times_ms else None,
    }
    with open(args.out_json, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
