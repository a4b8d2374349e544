// The SQLite database: opening, validating and migrating the file, and the connections units of work use.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>
#include <sqlite3.h>

#include "allocation/adapters/sqlite/product_cache.hpp"
#include "allocation/domain/errors.hpp"

namespace allocation::sqlite {

/// How hard a commit tries to survive a power cut. In WAL mode, `normal` never corrupts the file but may
/// lose the last transactions on power loss; `full` syncs the log on every commit.
enum class Synchronous { normal, full };

struct Options {
    /// A file name, or ":memory:" for a private database that lives as long as its Database object.
    std::string path = "allocation.db";
    Synchronous synchronous = Synchronous::normal;
    /// How long a connection waits for another one's write lock before giving up with StorageError.
    std::chrono::milliseconds busy_timeout{5000};
};

/// The newest schema version this library knows; stored in `PRAGMA user_version`.
inline constexpr int schema_version = 2;

/// The oldest SQLite library the adapter works with (as sqlite3_libversion_number() counts): the migrations use
/// `ALTER TABLE ... DROP COLUMN`, new in 3.35.0 and fixed in 3.35.5.
inline constexpr int oldest_sqlite = 3'035'005;

namespace detail {

/// migrations[i] takes the schema from version i to version i + 1.
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
    UNIQUE (orderid, sku)  -- an order has one line per SKU
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
    // The stored quantity minus the lines allocated after each one is exactly what version 1 would have stored
    // once those later lines left (see also refuse_unrepresentable_v1).
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
};
static_assert(std::size(migrations) == schema_version);

/// A "what went wrong" message naming the file, the step and SQLite's own explanation.
inline std::string describe(std::string_view path, std::string_view doing, std::string_view reason) {
    return "SQLite database " + std::string(path) + ": " + std::string(doing) + ": " + std::string(reason);
}

/// Resets a statement when the scope ends, so that it is ready for the next use whatever happened.
class Use {
public:
    explicit Use(SQLite::Statement& statement) noexcept : statement_(statement) {}
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
    ~Use() { statement_.tryReset(); }
    SQLite::Statement* operator->() const noexcept { return &statement_; }

private:
    SQLite::Statement& statement_;
};

/// Binds a string as text without copying it (SQLITE_STATIC): copying is a malloc and a free inside SQLite on
/// every bind. The string must stay alive and unchanged until the statement has run, i.e. until its `Use` ends.
/// The stale pointer that stays bound after that is never read: every use of a statement binds every one of
/// its parameters again before stepping it.
inline void bind_text(SQLite::Statement& statement, int index, const std::string& text) {
    statement.bindNoCopy(index, text);
}
void bind_text(SQLite::Statement&, int, std::string&&) = delete;  // a temporary would die before the step

/// Every statement the adapter runs, prepared once per connection.
struct Statements {
    explicit Statements(SQLite::Database& db)
        : begin_read(db, "BEGIN"),
          begin_write(db, "BEGIN IMMEDIATE"),
          commit(db, "COMMIT"),
          rollback(db, "ROLLBACK"),
          // One query for the product and its batches: a product without batches gives one row of NULLs.
          select_product(db,
                         "SELECT p.version_number, b.id, b.reference, b.purchased_quantity, b.eta, b.allocated_quantity "
                         "FROM products p LEFT JOIN batch_stock b ON b.sku = p.sku WHERE p.sku = ?1 ORDER BY b.id"),
          // The same and the lines of one order, in one statement and so from one snapshot (the Allocate lookup).
          // Rows of the product have a version; rows of lines have none and carry (batch id, qty, allocation id)
          // in columns 1, 5 and 6. Row order is not guaranteed: the reader sorts.
          select_product_and_order(
              db,
              "SELECT p.version_number, b.id, b.reference, b.purchased_quantity, b.eta, b.allocated_quantity, NULL "
              "FROM products p LEFT JOIN batch_stock b ON b.sku = p.sku WHERE p.sku = ?1 "
              "UNION ALL "
              "SELECT NULL, a.batch_id, NULL, NULL, NULL, l.qty, a.id FROM order_lines l JOIN allocations a "
              "ON a.orderline_id = l.id WHERE l.orderid = ?2 AND l.sku = ?1"),
          // Whether a cached product is still the stored one (ProductCache): its version, and for an order's
          // lookup whether that order has a line of the SKU, in one statement.
          select_version(db, "SELECT version_number FROM products WHERE sku = ?1"),
          select_version_and_order(db,
                                   "SELECT version_number, EXISTS (SELECT 1 FROM order_lines WHERE orderid = ?2 AND "
                                   "sku = ?1) FROM products WHERE sku = ?1"),
          select_order_lines(db,
                             "SELECT a.id, a.batch_id, l.qty FROM order_lines l JOIN allocations a "
                             "ON a.orderline_id = l.id WHERE l.orderid = ?1 AND l.sku = ?2"),
          select_batch_lines(db,
                             "SELECT a.id, l.orderid, l.qty FROM allocations a JOIN order_lines l "
                             "ON l.id = a.orderline_id WHERE a.batch_id = ?1 ORDER BY a.id"),
          select_batch_sku(db, "SELECT sku FROM batches WHERE reference = ?1"),
          insert_product(db, "INSERT INTO products (sku, version_number) VALUES (?1, ?2)"),
          update_version(db, "UPDATE products SET version_number = ?1 WHERE sku = ?2 AND version_number = ?3"),
          insert_batch(db, "INSERT INTO batches (reference, sku, purchased_quantity, eta) VALUES (?1, ?2, ?3, ?4)"),
          update_batch(db, "UPDATE batches SET purchased_quantity = ?1 WHERE id = ?2"),
          insert_line(db, "INSERT INTO order_lines (orderid, sku, qty) VALUES (?1, ?2, ?3)"),
          insert_allocation(db,
                            "INSERT INTO allocations (orderline_id, batch_id, allocated_after) VALUES (?1, ?2, ?3)"),
          // Only the batch's newest line may go (its allocation deletes with it), which keeps allocated_after
          // of the newest remaining allocation the batch's total.
          delete_line(db,
                      "DELETE FROM order_lines WHERE id = (SELECT orderline_id FROM allocations WHERE batch_id = ?1 "
                      "ORDER BY id DESC LIMIT 1) AND orderid = ?2 AND sku = ?3 AND qty = ?4"),
          view_add(db,
                   "INSERT INTO allocations_view (orderid, sku, batchref) VALUES (?1, ?2, ?3) "
                   "ON CONFLICT (orderid, sku) DO UPDATE SET batchref = excluded.batchref"),
          view_remove(db, "DELETE FROM allocations_view WHERE orderid = ?1 AND sku = ?2"),
          view_select(db, "SELECT sku, batchref FROM allocations_view WHERE orderid = ?1 ORDER BY rowid") {}

    SQLite::Statement begin_read, begin_write, commit, rollback;
    SQLite::Statement select_product, select_product_and_order, select_version, select_version_and_order,
        select_order_lines, select_batch_lines, select_batch_sku;
    SQLite::Statement insert_product, update_version, insert_batch, update_batch, insert_line, insert_allocation,
        delete_line;
    SQLite::Statement view_add, view_remove, view_select;
};

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

    /// Per-connection settings; the database must already have its schema.
    void configure(const Options& options) {
        db.exec("PRAGMA foreign_keys = ON");
        db.exec(options.synchronous == Synchronous::full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
        statements.emplace(db);
    }

    /// True while a transaction (read or write) is open on this connection.
    bool in_transaction() const noexcept { return sqlite3_get_autocommit(db.getHandle()) == 0; }

    SQLite::Database db;
    std::optional<Statements> statements;
    ProductCache cache;
    std::thread::id last_user;
    bool in_use = false;
    bool unit_of_work_open = false;  // only ever true for one unit of work (checked on ":memory:")
};

class ConnectionPool;

/// Exclusive use of one connection until destroyed.
class Lease {
public:
    Lease(ConnectionPool& pool, Connection& connection, std::unique_lock<std::recursive_mutex> exclusive) noexcept
        : pool_(&pool), connection_(&connection), exclusive_(std::move(exclusive)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    inline ~Lease();

    Connection& connection() const noexcept { return *connection_; }
    Statements& statements() const noexcept { return *connection_->statements; }

private:
    ConnectionPool* pool_;
    Connection* connection_;
    std::unique_lock<std::recursive_mutex> exclusive_;
};

/// Hands each caller a connection nobody else is using, preferring the one its thread used last, so that a
/// thread keeps its connection (and its prepared statements) from one unit of work to the next.
///
/// ":memory:" is different: every connection to ":memory:" is a database of its own, so the pool holds exactly
/// one connection and a lease holds a (recursive) lock on it: units of work on several threads take turns.
class ConnectionPool {
public:
    ConnectionPool(const Options& options, std::unique_ptr<Connection> first) : options_(options) {
        connections_.push_back(std::move(first));
    }

    Lease acquire() {
        if (options_.path == ":memory:") {
            std::unique_lock exclusive(memory_mutex_);
            return Lease(*this, *connections_.front(), std::move(exclusive));
        }
        const auto me = std::this_thread::get_id();
        {
            std::lock_guard lock(mutex_);
            Connection* any_free = nullptr;
            for (auto& connection : connections_) {
                if (connection->in_use) continue;
                if (connection->last_user == me) return take(*connection, me);
                if (any_free == nullptr) any_free = connection.get();
            }
            if (any_free != nullptr) return take(*any_free, me);
        }
        // Opening a connection takes a while: do it outside the lock.
        auto fresh = open(options_, false);
        std::lock_guard lock(mutex_);
        connections_.push_back(std::move(fresh));
        return take(*connections_.back(), me);
    }

    void release(Connection& connection) noexcept {
        if (options_.path == ":memory:") return;
        std::lock_guard lock(mutex_);
        connection.in_use = false;
    }

    /// Opens and configures a connection to a database that already has its schema.
    static std::unique_ptr<Connection> open(const Options& options, bool create) {
        try {
            auto connection = std::make_unique<Connection>(options, create);
            if (!create) connection->configure(options);
            return connection;
        } catch (const SQLite::Exception& e) {
            throw StorageError(describe(options.path, "cannot open", e.what()));
        }
    }

private:
    Lease take(Connection& connection, std::thread::id me) {
        connection.in_use = true;
        connection.last_user = me;
        return Lease(*this, connection, {});
    }

    const Options& options_;
    std::mutex mutex_;
    std::recursive_mutex memory_mutex_;
    std::vector<std::unique_ptr<Connection>> connections_;
};

inline Lease::~Lease() { pool_->release(*connection_); }

}  // namespace detail

/// The allocation database: opening it creates the file if needed, checks it, and brings its schema up to date
/// (migrations run in order inside one transaction; the version lives in `PRAGMA user_version`).
///
/// A file that cannot be opened for writing, is not an SQLite database, or has a schema newer than this library
/// knows is refused with a StorageError naming the path and the reason, and is left exactly as it was; so is
/// every file when the SQLite library is older than 3.35.5.
/// The Database must outlive every factory, unit of work and view made from it. It is not copyable.
class Database {
public:
    explicit Database(Options options) : options_(std::move(options)) {
        if (sqlite3_libversion_number() < oldest_sqlite) {
            throw StorageError(detail::describe(options_.path, "cannot open",
                                                std::string("this program uses SQLite ") + sqlite3_libversion() +
                                                    "; the allocation schema needs SQLite 3.35.5 or newer"));
        }
        auto first = detail::ConnectionPool::open(options_, true);
        migrate(*first);
        try {
            first->configure(options_);
        } catch (const SQLite::Exception& e) {
            throw StorageError(detail::describe(options_.path, "cannot configure the connection", e.what()));
        }
        pool_.emplace(options_, std::move(first));
    }
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    const Options& options() const noexcept { return options_; }

    /// Asks the database one question (its schema version) on a connection nobody else is using, for readiness
    /// probes: throws StorageError when the file does not answer, or another program gave it a newer schema.
    void check() {
        auto lease = pool_->acquire();
        refuse_if_newer(user_version(lease.connection()));
    }

private:
    friend class UnitOfWork;
    friend class AllocationsView;

    detail::Lease lease() { return pool_->acquire(); }

    int user_version(detail::Connection& connection) {
        try {
            return connection.db.execAndGet("PRAGMA user_version").getInt();
        } catch (const SQLite::Exception& e) {
            throw StorageError(detail::describe(options_.path, "not a usable SQLite database (corrupt, or not a database)",
                                                e.what()));
        }
    }

    void refuse_if_newer(int found) const {
        if (found > schema_version) {
            throw StorageError(detail::describe(
                options_.path, "refusing to open",
                "its schema version " + std::to_string(found) + " is newer than the newest this library supports (" +
                    std::to_string(schema_version) + "); use a newer version of allocation"));
        }
    }

    // Version 2 keeps a batch's allocated quantity on its allocations, so a version 1 batch with a quantity but no
    // allocated line (the adapter stored what a new product's batches claimed) cannot be carried over.
    void refuse_unrepresentable_v1(detail::Connection& connection) const {
        SQLite::Statement query(connection.db,
                                "SELECT reference, allocated_quantity FROM batches b WHERE allocated_quantity <> 0 AND "
                                "NOT EXISTS (SELECT 1 FROM allocations a WHERE a.batch_id = b.id) LIMIT 1");
        if (!query.executeStep()) return;
        throw StorageError(detail::describe(
            options_.path, "refusing to upgrade the schema to version 2",
            "batch " + query.getColumn(0).getString() + " has an allocated quantity of " +
                query.getColumn(1).getString() +
                " but no allocated line, and version 2 keeps a batch's allocated quantity on its lines; set that "
                "batch's allocated_quantity to 0 or store its lines, then open the file again"));
    }

    // Nothing is written before the file has been checked, so a refused file stays byte-for-byte the same.
    void migrate(detail::Connection& connection) {
        refuse_if_newer(user_version(connection));
        try {
            if (options_.path != ":memory:") {
                auto mode = connection.db.execAndGet("PRAGMA journal_mode = WAL").getString();
                if (mode != "wal") {
                    throw StorageError(detail::describe(options_.path, "cannot switch to WAL mode", "journal mode is " + mode));
                }
            }
            connection.db.exec("BEGIN IMMEDIATE");
            try {
                // Another process may have migrated the file since we looked.
                const int found = connection.db.execAndGet("PRAGMA user_version").getInt();
                refuse_if_newer(found);
                for (int version = found; version < schema_version; ++version) {
                    if (version == 1) refuse_unrepresentable_v1(connection);
                    connection.db.exec(detail::migrations[version]);
                }
                if (found != schema_version) {
                    connection.db.exec("PRAGMA user_version = " + std::to_string(schema_version));
                }
                connection.db.exec("COMMIT");
            } catch (...) {
                connection.db.tryExec("ROLLBACK");
                throw;
            }
        } catch (const SQLite::Exception& e) {
            throw StorageError(detail::describe(options_.path, "cannot create or upgrade the schema", e.what()));
        }
    }

    Options options_;
    std::optional<detail::ConnectionPool> pool_;
    // Held by a unit of work from BEGIN IMMEDIATE to COMMIT. Threads of one process take turns on it instead of
    // in SQLite's busy handler, which sleeps (1 ms, then 2, 5, 10 ...) however soon the lock is free again.
    // Other processes still meet in the busy handler.
    std::mutex writer_;
};

}  // namespace allocation::sqlite
