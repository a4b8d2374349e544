// One SQLite connection with its prepared statements and the products its units of work ended with.
#pragma once

#include <optional>

#include <SQLiteCpp/Database.h>
#include <sqlite3.h>

#include "allocation/adapters/sqlite/checkpointer.hpp"
#include "allocation/adapters/sqlite/errors.hpp"
#include "allocation/adapters/sqlite/options.hpp"
#include "allocation/adapters/sqlite/product_cache.hpp"
#include "allocation/adapters/sqlite/statements.hpp"
#include "allocation/domain/errors.hpp"

namespace allocation::sqlite::detail {

/// One SQLite connection and its prepared statements. Used by one thread at a time.
struct Connection {
    Connection(const Options& options, bool create)
        : db(options.path,
             SQLite::OPEN_READWRITE | SQLite::OPEN_NOMUTEX | (create ? SQLite::OPEN_CREATE : 0),
             static_cast<int>(options.busy_timeout.count())) {
        if (sqlite3_db_readonly(db.getHandle(), "main") == 1) {
            throw StorageError(describe(options.path, "cannot open for writing", "the file is read-only"));
        }
    }

    /// Per-connection settings; the database must already have its schema. `checkpointer`, when there is
    /// one, takes over the log's checkpoints from this connection.
    void configure(const Options& options, Checkpointer* checkpointer) {
        db.exec("PRAGMA foreign_keys = ON");
        if (checkpointer != nullptr) checkpointer->watch(db.getHandle());
        db.exec(options.synchronous == Synchronous::full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
        statements.emplace(db);
    }

    /// True while a transaction (read or write) is open on this connection.
    bool in_transaction() const noexcept { return sqlite3_get_autocommit(db.getHandle()) == 0; }

    SQLite::Database db;
    std::optional<Statements> statements;
    ProductCache cache;
    bool unit_of_work_open = false;  // only ever true for one unit of work (checked on ":memory:")
};

}  // namespace allocation::sqlite::detail
