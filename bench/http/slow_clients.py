#!/usr/bin/env python3
"""Slow clients for bench/http: N connections that each send a partial request head ("GET /health HTTP/1.1",
Host) and then one more header line every INTERVAL seconds, never finishing the head. A connection the server
closes (or answers, e.g. 408 or 431) is counted and opened again at once (or at its next turn, if it lived less
than a second), so that N stay open as far as the server allows. Runs until SIGTERM or SIGINT; rewrites
STATUS_FILE (JSON) four times a second, with "open_seconds", the integral over time of the number of
connections open: the difference of two snapshots divided by the time between them is the mean number open.

usage: slow_clients.py HOST PORT STATUS_FILE [--connections 64] [--interval 2]
Standard library only.
"""
import argparse
import json
import os
import select
import signal
import socket
import time

stop = False


def on_signal(signum, frame):
    global stop
    stop = True


class Slot:
    def __init__(self, index):
        self.index = index
        self.sock = None
        self.lines = 0
        self.opened_at = 0.0
        self.next_send = 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("status_file")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    stats = {"target": args.connections, "open": 0, "opened": 0, "connect_failures": 0, "closed_by_server": 0,
             "answered": 0, "answers": {}, "header_lines_sent": 0, "open_seconds": 0.0, "time": 0.0}
    slots = [Slot(i) for i in range(args.connections)]
    by_fd = {}
    start = time.monotonic()

    def open_slot(slot, now):
        try:
            sock = socket.create_connection((args.host, args.port), timeout=2)
            sock.setblocking(False)
            sock.sendall(f"GET /health HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n".encode())
            slot.sock, slot.lines, slot.opened_at = sock, 0, now
            by_fd[sock.fileno()] = slot
            stats["opened"] += 1
        except OSError:
            stats["connect_failures"] += 1
        slot.next_send = now + args.interval

    def close(slot, data, now):
        del by_fd[slot.sock.fileno()]
        slot.sock.close()
        slot.sock = None
        stats["closed_by_server"] += 1
        if data:
            stats["answered"] += 1
            status = data.split(b" ", 2)[1].decode(errors="replace") if data.count(b" ") >= 2 else "?"
            stats["answers"][status] = stats["answers"].get(status, 0) + 1
        if now - slot.opened_at >= 1.0:
            open_slot(slot, now)  # at once: the server gains nothing by closing it
        # else: at its next turn, so that a server refusing connections is not flooded

    def write_status(now):
        stats["open"] = sum(1 for s in slots if s.sock is not None)
        stats["time"] = now - start
        tmp = args.status_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(stats, f)
        os.replace(tmp, args.status_file)

    # All connections open at once; their header lines are then spread evenly over the interval.
    now = time.monotonic()
    for slot in slots:
        open_slot(slot, now)
        slot.next_send = now + (slot.index + 1) * args.interval / len(slots)
    write_status(now)
    last, last_status = now, now
    while not stop:
        wait = max(0.0, min(s.next_send for s in slots) - time.monotonic())
        socks = [s.sock for s in slots if s.sock is not None]
        try:
            readable = select.select(socks, [], [], min(wait, 0.05))[0] if socks else (time.sleep(min(wait, 0.05)) or [])
        except InterruptedError:
            readable = []
        now = time.monotonic()
        stats["open_seconds"] += sum(1 for s in slots if s.sock is not None) * (now - last)
        last = now
        for sock in readable:
            slot = by_fd.get(sock.fileno())
            if slot is None or slot.sock is not sock:
                continue
            try:
                data = sock.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            close(slot, data, now)
        for slot in slots:
            if slot.next_send > now:
                continue
            if slot.sock is None:
                open_slot(slot, now)
                continue
            slot.next_send = now + args.interval
            try:
                slot.sock.send(f"X-Slow-{slot.lines}: {slot.index}\r\n".encode())
                slot.lines += 1
                stats["header_lines_sent"] += 1
            except BlockingIOError:
                pass
            except OSError:
                close(slot, b"", now)
        if now - last_status >= 0.25:
            write_status(now)
            last_status = now
    write_status(time.monotonic())  # the figures at the stop, connections still open
    for slot in slots:
        if slot.sock is not None:
            slot.sock.close()


if __name__ == "__main__":
    main()
