// The floor for the SQLite benchmark: the same minimal allocation transaction, written directly against sqlite3.
#pragma once

#include <string>

namespace bench_raw {

struct Settings {
    std::string path;           // a fresh file, or ":memory:"
    bool full_sync = false;     // PRAGMA synchronous = FULL instead of NORMAL (files only; WAL either way)
    std::string schema;         // the adapter's schema, so that both write the same tables and indexes
    int allocations = 10000;
    bool outbox = true;         // insert the outbox row of the Allocated event, and mark the previous one delivered
    int per_transaction = 1;    // > 1: that many allocations a transaction, each in its own SAVEPOINT, one COMMIT
};

/// Allocations per second of: BEGIN IMMEDIATE; read the version; insert the line; insert the allocation;
/// insert the view row; compare-and-set the version; insert the outbox row of its Allocated event and mark the
/// previous allocation's row delivered (what the adapter's commit writes: its row, and the delivery mark of the
/// commit before; unless `outbox` is false); COMMIT.
/// With `per_transaction` n > 1, as a group commit does it: BEGIN IMMEDIATE; then n times SAVEPOINT s; the same
/// allocation; RELEASE s; and one COMMIT for the n (the last transaction of a run may hold fewer).
/// Throws std::runtime_error on any SQLite error.
double allocations_per_second(const Settings& settings);

}  // namespace bench_raw
