// The schema's history: each migration, the checks that a file's data can take the next one, and the upgrade.
#pragma once

#include <iterator>
#include <string>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>

#include "allocation/adapters/sqlite/errors.hpp"
#include "allocation/adapters/sqlite/transaction.hpp"
#include "allocation/detail/schema_version.hpp"
#include "allocation/domain/errors.hpp"

namespace allocation::sqlite {

/// The newest schema version this library knows; stored in `PRAGMA user_version`.
inline constexpr int schema_version = 6;

/// The oldest SQLite library the adapter works with (as sqlite3_libversion_number() counts): the migrations use
/// `ALTER TABLE ... DROP COLUMN`, new in 3.35.0 and fixed in 3.35.5.
inline constexpr int oldest_sqlite = 3'035'005;

namespace detail {

/// migrations[i] takes the schema from version i to version i + 1. A migration that has shipped is never
/// edited: files out there went through its text. What changes goes into a new one.
inline constexpr const char* migrations[] = {
    R"sql(
CREATE TABLE products (
    sku TEXT PRIMARY KEY,
    version_number INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE batches (
    id INTEGER PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    sku TEXT NOT NULL REFERENCES products (sku),
    purchased_quantity INTEGER NOT NULL,
    eta TEXT,
    allocated_quantity INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX batches_by_sku ON batches (sku);
CREATE TABLE order_lines (
    id INTEGER PRIMARY KEY,
    orderid TEXT NOT NULL,
    sku TEXT NOT NULL,
    qty INTEGER NOT NULL,
    UNIQUE (orderid, sku, qty)
);
CREATE TABLE allocations (
    id INTEGER PRIMARY KEY,
    orderline_id INTEGER NOT NULL UNIQUE REFERENCES order_lines (id) ON DELETE CASCADE,
    batch_id INTEGER NOT NULL REFERENCES batches (id)
);
CREATE INDEX allocations_by_batch ON allocations (batch_id);
CREATE TABLE allocations_view (
    orderid TEXT NOT NULL,
    sku TEXT NOT NULL,
    batchref TEXT NOT NULL,
    UNIQUE (orderid, sku)
);
)sql",
    // A batch's allocated quantity is kept on its allocations instead of in a batch column, so that allocating
    // writes no batch row: each allocation stores the batch's allocated quantity once it was made. Lines leave
    // a batch newest first, so the newest remaining allocation always holds the batch's current total.
    // Only batches whose quantity is the sum of their lines are carried over (refuse_unrepresentable_v1).
    R"sql(
ALTER TABLE allocations ADD COLUMN allocated_after INTEGER NOT NULL DEFAULT 0;
UPDATE allocations SET allocated_after = later.total FROM (
    SELECT a.id, b.allocated_quantity - sum(l.qty) OVER (PARTITION BY a.batch_id ORDER BY a.id DESC) + l.qty AS total
    FROM allocations a JOIN order_lines l ON l.id = a.orderline_id JOIN batches b ON b.id = a.batch_id) AS later
WHERE later.id = allocations.id;
ALTER TABLE batches DROP COLUMN allocated_quantity;
CREATE VIEW batch_stock AS
SELECT b.id, b.reference, b.sku, b.purchased_quantity, b.eta,
       coalesce((SELECT a.allocated_after FROM allocations a WHERE a.batch_id = b.id ORDER BY a.id DESC LIMIT 1), 0)
           AS allocated_quantity
FROM batches b;
)sql",
    // An order has one line per SKU: the adapter relies on the schema to refuse a second one (a lookup that did
    // not load the order's lines cannot see it). Version 1 only refused the same line twice, UNIQUE (orderid, sku,
    // qty), and SQLite cannot change a table's constraint, so the table is rebuilt, ids and all, with foreign keys
    // off so that dropping the old one deletes no allocation (refuse_two_lines_of_one_sku checks the data first).
    R"sql(
CREATE TABLE order_lines_v3 (
    id INTEGER PRIMARY KEY,
    orderid TEXT NOT NULL,
    sku TEXT NOT NULL,
    qty INTEGER NOT NULL,
    UNIQUE (orderid, sku)
);
INSERT INTO order_lines_v3 (id, orderid, sku, qty) SELECT id, orderid, sku, qty FROM order_lines;
DROP TABLE order_lines;
ALTER TABLE order_lines_v3 RENAME TO order_lines;
)sql",
    // The transactional outbox (ports::Outbox): one row per event that leaves the process, written in the
    // transaction of the change that raised it. `seq` is the commit order; the id is allocation::outbox_id(sku,
    // version_number, position), so it is not stored. Delivered rows stay, with delivered_at: the newest row of a
    // product numbers the next one (a purge must keep it). Times are microseconds since the Unix epoch. Only
    // undelivered rows are indexed by commit order, so a relay's scan does not grow with history.
    R"sql(
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY,
    sku TEXT NOT NULL,
    version_number INTEGER NOT NULL,
    position INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    next_attempt_at INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    delivered_at INTEGER,
    UNIQUE (sku, version_number, position)
);
CREATE INDEX outbox_undelivered ON outbox (seq) WHERE delivered_at IS NULL;
)sql",
    // A line that was allocated and that no batch could take back waits for stock: it belongs to its product, not
    // to a batch, and the allocations view has no row for it. Ids order a product's waiting lines, oldest first.
    // Only new tables: no stored row changes, so the migration applies to any file of the previous version.
    R"sql(
CREATE TABLE waiting_lines (
    id INTEGER PRIMARY KEY,
    orderid TEXT NOT NULL,
    sku TEXT NOT NULL REFERENCES products (sku),
    qty INTEGER NOT NULL,
    UNIQUE (orderid, sku)
);
CREATE INDEX waiting_lines_by_sku ON waiting_lines (sku, id);
)sql",
    // Idempotent consumers (ports::ProcessedMessages): the id of every message applied, written in the transaction
    // of its effect, so that a message delivered again is not applied again. processed_at (microseconds since the
    // Unix epoch) is for a purge of old ids. Only a new table: any file of the previous version takes it.
    R"sql(
CREATE TABLE processed_messages (
    id TEXT PRIMARY KEY,
    processed_at INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
};
static_assert(std::size(migrations) == schema_version);

/// Refuses a file whose schema is newer than this library knows.
inline void refuse_if_newer(const std::string& path, int found) {
    allocation::detail::refuse_if_newer(describe, path, found, schema_version);
}

/// The file's schema version; a file that cannot answer is not a usable database.
inline int user_version(SQLite::Database& db, const std::string& path) {
    try {
        return db.execAndGet("PRAGMA user_version").getInt();
    } catch (const SQLite::Exception& e) {
        throw StorageError(describe(path, "not a usable SQLite database (corrupt, or not a database)", e.what()));
    }
}

// Version 2 keeps a batch's allocated quantity on its lines, so a version 1 batch whose quantity is not the sum
// of its lines (version 1 stored what a new product's batches claimed) cannot be carried over: the part without
// a line could never be deallocated, and shrinking the batch would fail for good.
inline void refuse_unrepresentable_v1(SQLite::Database& db, const std::string& path) {
    SQLite::Statement query(db,
                            "SELECT b.reference, b.allocated_quantity, coalesce(sum(l.qty), 0) AS lines FROM batches b "
                            "LEFT JOIN allocations a ON a.batch_id = b.id LEFT JOIN order_lines l ON l.id = "
                            "a.orderline_id GROUP BY b.id HAVING b.allocated_quantity <> lines LIMIT 1");
    if (!query.executeStep()) return;
    const std::string reference = query.getColumn(0).getString();
    const std::string quantity = query.getColumn(1).getString();
    const std::string lines = query.getColumn(2).getString();
    const std::string found = lines == "0" ? "but no allocated line" : "but its lines add up to " + lines;
    throw StorageError(describe(path, "refusing to upgrade the schema to version 2",
                                "batch " + reference + " has an allocated quantity of " + quantity + " " + found +
                                    ", and version 2 keeps a batch's allocated quantity on its lines; set that "
                                    "batch's allocated_quantity to " + lines +
                                    " or store its missing lines, then open the file again"));
}

// Version 3 stores one line per order and SKU; version 1 allowed two of different quantities.
inline void refuse_two_lines_of_one_sku(SQLite::Database& db, const std::string& path) {
    SQLite::Statement query(db,
                            "SELECT orderid, sku, count(*) FROM order_lines GROUP BY orderid, sku "
                            "HAVING count(*) > 1 LIMIT 1");
    if (!query.executeStep()) return;
    throw StorageError(describe(path, "refusing to upgrade the schema to version 3",
                                "order " + query.getColumn(0).getString() + " has " + query.getColumn(2).getString() +
                                    " lines of SKU " + query.getColumn(1).getString() +
                                    ", and an order has one line per SKU; keep one of them (deleting a line "
                                    "deletes its allocation), then open the file again"));
}

// After the rebuild of a table that others refer to: every reference must still find its row.
inline void check_foreign_keys(SQLite::Database& db, const std::string& path, int version) {
    SQLite::Statement query(db, "SELECT \"table\", rowid FROM pragma_foreign_key_check LIMIT 1");
    if (!query.executeStep()) return;
    throw StorageError(describe(path, "refusing to upgrade the schema to version " + std::to_string(version),
                                "row " + query.getColumn(1).getString() + " of table " +
                                    query.getColumn(0).getString() + " refers to a row that does not exist"));
}

// Runs migrations[version] with the checks before and after it.
inline void run_migration(SQLite::Database& db, const std::string& path, int version) {
    if (version == 1) refuse_unrepresentable_v1(db, path);
    if (version == 2) refuse_two_lines_of_one_sku(db, path);
    db.exec(migrations[version]);
    if (version == 2) check_foreign_keys(db, path, version + 1);
}

/// Brings the schema up to date, all migrations in one transaction. Nothing is written before the file has
/// been checked, so a refused file stays byte-for-byte the same.
inline void migrate(SQLite::Database& db, const std::string& path) {
    refuse_if_newer(path, user_version(db, path));
    try {
        if (path != ":memory:") {
            auto mode = db.execAndGet("PRAGMA journal_mode = WAL").getString();
            if (mode != "wal") throw StorageError(describe(path, "cannot switch to WAL mode", "journal mode is " + mode));
        }
        // Rebuilding a table must not cascade into the tables that refer to it; only takes effect outside a
        // transaction. The connection's own setting comes later (Connection::configure).
        db.exec("PRAGMA foreign_keys = OFF");
        SQLite::Statement begin(db, "BEGIN IMMEDIATE"), commit(db, "COMMIT");
        Transaction transaction(db, begin, commit);
        // Another process may have migrated the file since we looked.
        const int found = db.execAndGet("PRAGMA user_version").getInt();
        refuse_if_newer(path, found);
        for (int version = found; version < schema_version; ++version) run_migration(db, path, version);
        if (found != schema_version) db.exec("PRAGMA user_version = " + std::to_string(schema_version));
        transaction.commit();
    } catch (const SQLite::Exception& e) {
        throw StorageError(describe(path, "cannot create or upgrade the schema", e.what()));
    }
}

}  // namespace detail

}  // namespace allocation::sqlite
