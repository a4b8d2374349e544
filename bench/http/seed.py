#!/usr/bin/env python3
"""Seeds allocation-server for bench/http: SKUS products with two large batches each (eta null), ORDERS orders of
one to three lines, then fetches GET /allocations/<the probe order> and writes its body and Content-Type, so that
nginx can serve a file of the same size and type.

usage: seed.py HOST PORT OUT_DIR [--skus 100] [--orders 300]
Writes OUT_DIR/body (the GET body), OUT_DIR/content-type, OUT_DIR/orderid. Standard library only.
"""
import argparse
import http.client
import json
import os
import sys

BATCH_QTY = 1_000_000_000  # the largest quantity the service takes: the POST runs never run out


def sku_name(i):
    return f"BENCH-SKU-{i:03d}"


class Client:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.conn = None

    def request(self, method, path, body=None):
        for attempt in range(2):  # one retry on a fresh connection if the server closed a kept-alive one
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                headers = {"Content-Type": "application/json"} if body is not None else {}
                self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return response.status, response.getheader("Content-Type", ""), data
            except (http.client.HTTPException, ConnectionError, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("out_dir")
    parser.add_argument("--skus", type=int, default=100)
    parser.add_argument("--orders", type=int, default=300)
    args = parser.parse_args()

    client = Client(args.host, args.port)

    def expect(status, wanted, what, data):
        if status != wanted:
            sys.exit(f"seed: {what} answered {status} (wanted {wanted}): {data[:200]!r}")

    for i in range(args.skus):
        for suffix in ("a", "b"):
            ref = f"batch-{i:03d}-{suffix}"
            status, _, data = client.request(
                "POST", "/add_batch", {"ref": ref, "sku": sku_name(i), "qty": BATCH_QTY, "eta": None})
            expect(status, 201, f"add_batch {ref}", data)

    probe = None
    for n in range(args.orders):
        orderid = f"seed-order-{n:04d}"
        lines = 1 + n % 3
        for k in range(lines):
            sku = sku_name((n * 7 + k * 31) % args.skus)
            status, _, data = client.request("POST", "/allocate", {"orderid": orderid, "sku": sku, "qty": 1})
            expect(status, 202, f"allocate {orderid} {sku}", data)
            if json.loads(data).get("batchref") is None:
                sys.exit(f"seed: allocate {orderid} {sku} found no batch")
        if lines == 3 and probe is None and n >= args.orders // 2:
            probe = orderid  # an order with three lines, from the middle of the seeded ones

    status, content_type, body = client.request("GET", f"/allocations/{probe}")
    expect(status, 200, f"GET /allocations/{probe}", body)
    if len(json.loads(body)) != 3:
        sys.exit(f"seed: GET /allocations/{probe} has {len(json.loads(body))} rows, wanted 3")
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "body"), "wb") as f:
        f.write(body)
    with open(os.path.join(args.out_dir, "content-type"), "w") as f:
        f.write(content_type or "application/json")
    with open(os.path.join(args.out_dir, "orderid"), "w") as f:
        f.write(probe)
    print(f"seeded {args.skus} SKUs x 2 batches, {args.orders} orders; GET /allocations/{probe}: "
          f"{len(body)} bytes, {content_type}")


if __name__ == "__main__":
    main()
