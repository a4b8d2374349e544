#!/usr/bin/env python3
"""Writes the differential fuzzer's seed corpus (tests/fuzz/corpus/differential) in the byte format that
differential.hpp decodes: each seed is a small scenario of the book's rules and their edges."""
import os
import sys

REF = {"b1": 0, "b2": 1, "b3": 2, "b4": 3, "LAMP": 4, "r255": 5}
SKU = {"LAMP": 0, "DESK": 1, "RUG": 2}
ORD = {"o1": 0, "o2": 1, "o3": 2, "o4": 3, "cafe": 4}
ETA = {None: 0, "2026-01-01": 4, "2026-01-02": 5, "2026-03-01": 6, "1900-01-01": 7, "9999-12-31": 8,
       "2024-02-29": 9, "2026-02-30": 10, "1899-12-31": 11, "10000-01-01": 12, "2025-02-29": 13, "2026-13-01": 14,
       "2026-01-00": 15}
EDGE = {0: 10, "max": 11, "max+1": 12, -1: 13, "INT_MIN": 14}


def qty(n):
    return EDGE[n] if n in EDGE else (n - 1) << 4  # 1..10


def bad(k):
    return 0xF0 + k  # an invalid id (see invalid_ids())


def ident(table, name):
    return name if isinstance(name, int) else table[name]


def cb(ref, sku, n, eta=None):
    return [0, ident(REF, ref), ident(SKU, sku), qty(n), ETA[eta]]


def al(order, sku, n):
    return [2, ident(ORD, order), ident(SKU, sku), qty(n)]


def cq(ref, n):
    return [6, ident(REF, ref), qty(n)]


SEEDS = {
    "warehouse_first": [cb("b1", "LAMP", 10), cb("b2", "LAMP", 10, "2026-01-01"), al("o1", "LAMP", 3)],
    "earliest_eta": [cb("b1", "LAMP", 10, "2026-01-02"), cb("b2", "LAMP", 10, "2026-01-01"),
                     cb("b3", "LAMP", 10, "2026-03-01"), al("o1", "LAMP", 2)],
    "equal_etas": [cb("b1", "LAMP", 3, "2026-01-01"), cb("b2", "LAMP", 3, "2026-01-01"), al("o1", "LAMP", 3),
                   al("o2", "LAMP", 3), al("o3", "LAMP", 1)],
    "out_of_stock": [cb("b1", "LAMP", 1), al("o1", "LAMP", 2), al("o2", "LAMP", 1), al("o3", "LAMP", 1)],
    "shrink_reallocates": [cb("b1", "LAMP", 10), cb("b2", "LAMP", 10, "2026-01-01"), al("o1", "LAMP", 5),
                           al("o2", "LAMP", 4), cq("b1", 5)],
    "shrink_back_into_same_batch": [cb("b1", "LAMP", 7), cb("b2", "LAMP", 10, "2026-01-01"), al("o1", "LAMP", 1),
                                    al("o2", "LAMP", 5), al("o3", "LAMP", 1), cq("b1", 5)],
    "errors": [cb("b1", "LAMP", 5), cb("b1", "DESK", 5), al("o1", "LAMP", 2), al("o1", "LAMP", 2),
               al("o1", "LAMP", 3), al("o1", "DESK", 1), cq("b3", 2)],
    "edge_quantities": [cb("b1", "LAMP", "max"), al("o1", "LAMP", "max"), cb("b2", "LAMP", "max+1"),
                        al("o2", "LAMP", 0), al("o3", "LAMP", -1), cq("b1", "INT_MIN"), cq("b1", "max+1"),
                        cb("b3", "LAMP", 0), cb("b4", "LAMP", -1)],
    "zero_quantity_change": [cb("b1", "LAMP", 5), cb("b2", "LAMP", 5, "2026-01-01"), al("o1", "LAMP", 2),
                             cq("b1", 0), al("o2", "LAMP", 1)],
    "dates": [cb("b1", "LAMP", 5, "2026-02-30"), cb("b2", "LAMP", 5, "1899-12-31"), cb("b3", "LAMP", 5, "10000-01-01"),
              cb("b4", "LAMP", 5, "1900-01-01"), cb("LAMP", "DESK", 5, "9999-12-31"), cb("r255", "RUG", 1, "2024-02-29"),
              cb("b1", "RUG", 1, "2025-02-29"), al("o1", "LAMP", 1), al("o1", "DESK", 1)],
    "invalid_ids": [cb(bad(0), "LAMP", 5), cb("b1", bad(1), 5), cb("b1", "LAMP", 5), al(bad(2), "LAMP", 1),
                    al(bad(3), "LAMP", 1), al("o1", bad(4), 1), cq(bad(5), 2), al(bad(1), "LAMP", 1)],
    "long_and_utf8_ids": [cb("r255", "RUG", 3), al("cafe", "RUG", 3), cb("LAMP", "LAMP", 2, "2026-03-01"),
                          al("cafe", "LAMP", 2)],
    "stranded_line": [cb("b1", "LAMP", 2), al("o1", "LAMP", 2), cq("b1", 1), cb("b2", "LAMP", 5)],
    "waiting_line_asked_again": [cb("b1", "LAMP", 5), al("o1", "LAMP", 3), al("o2", "LAMP", 2), cq("b1", 0),
                                 al("o1", "LAMP", 3), al("o1", "LAMP", 2), al("o3", "LAMP", 1), cq("b1", 2),
                                 cb("b2", "LAMP", 3)],
    "waiting_oldest_first": [cb("b1", "LAMP", 10), al("o1", "LAMP", 4), al("o2", "LAMP", 4), cq("b1", 0),
                             cb("b2", "LAMP", 4), cb("b3", "LAMP", 5)],
    "shrink_frees_room_for_waiting": [cb("b1", "LAMP", 10), cb("b2", "LAMP", 3, "2026-01-01"), al("o1", "LAMP", 5),
                                      al("o2", "LAMP", 5), al("o3", "LAMP", 3), cq("b2", 0), cq("b1", 8)],
    "orders_of_several_skus": [cb("b1", "LAMP", 5), cb("b2", "DESK", 5), al("o1", "DESK", 1), al("o1", "LAMP", 1),
                               cb("b3", "DESK", 5, "2026-01-02"), al("o2", "DESK", 4), cq("b2", 3), al("o2", "LAMP", 4)],
}

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "differential")
    os.makedirs(out, exist_ok=True)
    for name, commands in SEEDS.items():
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(bytes(b for command in commands for b in command))
