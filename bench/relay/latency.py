#!/usr/bin/env python3
"""Latency from an acknowledged POST /allocate to its event's entry in the stream allocation:line_allocated.

    latency.py SERVER_PORT REDIS_PORT [COUNT] [INTERVAL_MS]

Sends COUNT allocations (a new order each), one every INTERVAL_MS, on one keep-alive connection; then reads the
stream (XRANGE over plain RESP) and matches each entry to its order. An entry's Redis id is the Redis server's
clock, in milliseconds, when XADD appended it: the latency is that minus the time the client had the 202 (the
commit happened before), so it is an upper bound on commit-to-XADD less the answer's own trip (< 1 ms here).
Prints p50, p90, p99 and max, in milliseconds.
"""
import http.client
import json
import socket
import sys
import time


def resp_read(f):
    line = f.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:]
    if kind == b"*":
        return [resp_read(f) for _ in range(int(rest))]
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data
    if kind in (b"+", b":"):
        return rest
    raise RuntimeError("Redis error: " + rest.decode())


def xrange(port, stream):
    with socket.create_connection(("127.0.0.1", port)) as s:
        words = [b"XRANGE", stream.encode(), b"-", b"+"]
        s.sendall(b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words))
        return resp_read(s.makefile("rb"))


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


def main():
    server_port, redis_port = int(sys.argv[1]), int(sys.argv[2])
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    interval = (int(sys.argv[4]) if len(sys.argv) > 4 else 10) / 1000.0
    conn = http.client.HTTPConnection("127.0.0.1", server_port)
    acked = {}
    for i in range(count):
        order = "latency-%d" % i
        conn.request("POST", "/allocate", json.dumps({"orderid": order, "sku": "LATENCY", "qty": 1}),
                     {"Content-Type": "application/json"})
        answer = conn.getresponse()
        answer.read()
        if answer.status == 202:
            acked[order] = time.time() * 1000.0
        time.sleep(interval)
    time.sleep(1.0)
    latencies = []
    for entry_id, fields in xrange(redis_port, "allocation:line_allocated"):
        values = dict(zip(fields[::2], fields[1::2]))
        order = json.loads(values[b"event"])["orderid"]
        if order in acked:
            latencies.append(max(0.0, int(entry_id.split(b"-")[0]) - acked.pop(order)))
    if acked:
        print("missing from the stream: %d of %d" % (len(acked), count))
    print("commit-to-XADD latency over %d allocations (one every %d ms): p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, "
          "max %.0f ms" % (len(latencies), interval * 1000, percentile(latencies, 50), percentile(latencies, 90),
                           percentile(latencies, 99), max(latencies)))


if __name__ == "__main__":
    main()
