// The raw floor: one allocation as the smallest transaction that does the same job, through the sqlite3 C API
// only (no SQLiteCpp, no domain model, no bus); or many allocations a transaction, each in its own savepoint, as a
// group commit writes them. Statements are prepared once and reused.
#include "bench_sqlite_raw.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace bench_raw {
namespace {

void check(sqlite3* db, int rc, const char* what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        throw std::runtime_error(std::string(what) + ": " + sqlite3_errmsg(db));
    }
}

sqlite3_stmt* prepare(sqlite3* db, const char* sql) {
    sqlite3_stmt* statement = nullptr;
    check(db, sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr), sql);
    return statement;
}

void run(sqlite3* db, sqlite3_stmt* statement, const char* what) {
    check(db, sqlite3_step(statement), what);
    sqlite3_reset(statement);
}

// The outbox row of the Allocated event, with its payload in the book's JSON, as the adapter's row holds it.
void insert_outbox_row(sqlite3* db, sqlite3_stmt* insert_outbox, const char* orderid, sqlite3_int64 version) {
    char payload[96];
    const int payload_length = std::snprintf(payload, sizeof payload,
                                             R"({"orderid":"%s","sku":"RAW","qty":1,"batchref":"raw-batch"})", orderid);
    const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now().time_since_epoch()).count();
    sqlite3_bind_text(insert_outbox, 1, "RAW", 3, SQLITE_STATIC);
    sqlite3_bind_int64(insert_outbox, 2, version);
    sqlite3_bind_text(insert_outbox, 3, payload, payload_length, SQLITE_STATIC);
    sqlite3_bind_int64(insert_outbox, 4, now);
    run(db, insert_outbox, "insert outbox row");
}

// The delivery mark of the row committed with `version` (the previous allocation's), as the adapter's commit
// writes the mark its delivery left in memory.
void mark_row_delivered(sqlite3* db, sqlite3_stmt* mark_delivered, sqlite3_int64 version) {
    const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now().time_since_epoch()).count();
    sqlite3_bind_text(mark_delivered, 1, "RAW", 3, SQLITE_STATIC);
    sqlite3_bind_int64(mark_delivered, 2, version);
    sqlite3_bind_int64(mark_delivered, 3, now);
    run(db, mark_delivered, "mark outbox row delivered");
}

/// The database of one run: opened with the run's settings, its schema made and its one product and batch stored.
sqlite3* open_seeded(const Settings& settings, sqlite3_int64& batch_id) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(settings.path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
        std::string message = db ? sqlite3_errmsg(db) : "out of memory";
        sqlite3_close(db);
        throw std::runtime_error("cannot open " + settings.path + ": " + message);
    }
    sqlite3_busy_timeout(db, 5000);
    const bool memory = settings.path == ":memory:";
    check(db, sqlite3_exec(db, memory ? "PRAGMA journal_mode = MEMORY" : "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr), "journal_mode");
    check(db, sqlite3_exec(db, settings.full_sync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
                           nullptr, nullptr, nullptr), "synchronous");
    check(db, sqlite3_exec(db, "PRAGMA foreign_keys = ON", nullptr, nullptr, nullptr), "foreign_keys");
    check(db, sqlite3_exec(db, settings.schema.c_str(), nullptr, nullptr, nullptr), "schema");
    check(db, sqlite3_exec(db,
                           "INSERT INTO products (sku, version_number) VALUES ('RAW', 1);"
                           "INSERT INTO batches (reference, sku, purchased_quantity) VALUES ('raw-batch', 'RAW', 1000000000)",
                           nullptr, nullptr, nullptr),
          "seed");
    batch_id = sqlite3_last_insert_rowid(db);
    return db;
}

/// Every statement of the transaction, prepared once.
struct Statements {
    explicit Statements(sqlite3* db)
        : begin(prepare(db, "BEGIN IMMEDIATE")), commit(prepare(db, "COMMIT")),
          savepoint(prepare(db, "SAVEPOINT s")), release(prepare(db, "RELEASE s")),
          read_version(prepare(db, "SELECT version_number FROM products WHERE sku = ?1")),
          insert_line(prepare(db, "INSERT INTO order_lines (orderid, sku, qty) VALUES (?1, ?2, ?3)")),
          insert_allocation(prepare(db, "INSERT INTO allocations (orderline_id, batch_id, allocated_after) VALUES (?1, ?2, ?3)")),
          insert_view(prepare(db, "INSERT INTO allocations_view (orderid, sku, batchref) VALUES (?1, ?2, ?3)")),
          set_version(prepare(db, "UPDATE products SET version_number = ?1 WHERE sku = ?2 AND version_number = ?3")),
          insert_outbox(prepare(db,
              "INSERT INTO outbox (sku, version_number, position, event_type, payload, created_at, next_attempt_at) "
              "VALUES (?1, ?2, 0, 'Allocated', ?3, ?4, ?4)")),
          mark_delivered(prepare(db,
              "UPDATE outbox SET delivered_at = ?3, lease_owner = NULL, lease_until = NULL "
              "WHERE sku = ?1 AND version_number = ?2 AND position = 0 AND delivered_at IS NULL")) {}
    Statements(const Statements&) = delete;
    Statements& operator=(const Statements&) = delete;
    ~Statements() {
        for (sqlite3_stmt* s : {begin, commit, savepoint, release, read_version, insert_line, insert_allocation,
                                insert_view, set_version, insert_outbox, mark_delivered}) {
            sqlite3_finalize(s);
        }
    }
    sqlite3_stmt *begin, *commit, *savepoint, *release, *read_version, *insert_line, *insert_allocation,
        *insert_view, *set_version, *insert_outbox, *mark_delivered;
};

/// The writes of the `i`th allocation, of line `orderid`, within the transaction (or savepoint) open.
void allocation_work(sqlite3* db, Statements& st, const Settings& settings, sqlite3_int64 batch_id, int i,
                     const char* orderid, int length) {
    sqlite3_bind_text(st.read_version, 1, "RAW", 3, SQLITE_STATIC);
    check(db, sqlite3_step(st.read_version), "read version");
    const sqlite3_int64 version = sqlite3_column_int64(st.read_version, 0);
    sqlite3_reset(st.read_version);

    sqlite3_bind_text(st.insert_line, 1, orderid, length, SQLITE_STATIC);
    sqlite3_bind_text(st.insert_line, 2, "RAW", 3, SQLITE_STATIC);
    sqlite3_bind_int(st.insert_line, 3, 1);
    run(db, st.insert_line, "insert line");
    const sqlite3_int64 line_id = sqlite3_last_insert_rowid(db);

    sqlite3_bind_int64(st.insert_allocation, 1, line_id);
    sqlite3_bind_int64(st.insert_allocation, 2, batch_id);
    sqlite3_bind_int(st.insert_allocation, 3, i + 1);  // the batch's allocated quantity with this line
    run(db, st.insert_allocation, "insert allocation");

    sqlite3_bind_text(st.insert_view, 1, orderid, length, SQLITE_STATIC);
    sqlite3_bind_text(st.insert_view, 2, "RAW", 3, SQLITE_STATIC);
    sqlite3_bind_text(st.insert_view, 3, "raw-batch", 9, SQLITE_STATIC);
    run(db, st.insert_view, "insert view row");

    sqlite3_bind_int64(st.set_version, 1, version + 1);
    sqlite3_bind_text(st.set_version, 2, "RAW", 3, SQLITE_STATIC);
    sqlite3_bind_int64(st.set_version, 3, version);
    run(db, st.set_version, "compare-and-set version");
    if (sqlite3_changes(db) != 1) throw std::runtime_error("lost the version race");

    if (settings.outbox) {
        insert_outbox_row(db, st.insert_outbox, orderid, version + 1);
        mark_row_delivered(db, st.mark_delivered, version);
    }
}

/// Allocations `first` to `first + count - 1` in one transaction: alone, or each in its own savepoint when the run
/// groups them (per_transaction > 1).
void allocate(sqlite3* db, Statements& st, const Settings& settings, sqlite3_int64 batch_id, int first, int count) {
    const bool savepoints = settings.per_transaction > 1;
    char orderid[32];
    run(db, st.begin, "BEGIN IMMEDIATE");
    for (int i = first; i < first + count; ++i) {
        const int length = std::snprintf(orderid, sizeof orderid, "order-%d", i);
        if (savepoints) run(db, st.savepoint, "SAVEPOINT");
        allocation_work(db, st, settings, batch_id, i, orderid, length);
        if (savepoints) run(db, st.release, "RELEASE");
    }
    run(db, st.commit, "COMMIT");
}

}  // namespace

double allocations_per_second(const Settings& settings) {
    sqlite3_int64 batch_id = 0;
    sqlite3* db = open_seeded(settings, batch_id);
    double per_second = 0;
    {
        Statements st(db);
        const int per_transaction = settings.per_transaction > 1 ? settings.per_transaction : 1;
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < settings.allocations; i += per_transaction) {
            allocate(db, st, settings, batch_id, i, std::min(per_transaction, settings.allocations - i));
        }
        const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
        per_second = settings.allocations / elapsed.count();
    }
    sqlite3_close(db);
    return per_second;
}

}  // namespace bench_raw
