// The SQL the adapter runs, each query with the numbers of the columns it reads, prepared once per connection.
#pragma once

#include <string>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

namespace allocation::sqlite::detail {

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

// --- the queries that read several columns, each with its columns' numbers ------------------------------

/// The product of SKU ?1 with its batches, one row each (a product without batches gives one row whose batch
/// columns are NULL), and its waiting lines, which every lookup loads: one statement, so one snapshot. Rows of the
/// product have a version; rows of waiting lines have a NULL version and batch id, and the columns of
/// WaitingColumn. Row order is not guaranteed: the reader sorts.
#define ALLOCATION_SQLITE_PRODUCT_ROWS                                                                            \
    "SELECT p.version_number, b.id, b.reference, b.purchased_quantity, b.eta, b.allocated_quantity, NULL "        \
    "FROM products p LEFT JOIN batch_stock b ON b.sku = p.sku WHERE p.sku = ?1 "                                  \
    "UNION ALL "                                                                                                  \
    "SELECT NULL, NULL, w.orderid, w.qty, NULL, NULL, w.id FROM waiting_lines w WHERE w.sku = ?1"
struct ProductQuery {
    static constexpr const char* sql = ALLOCATION_SQLITE_PRODUCT_ROWS;
    enum Column : int { version, batch_id, reference, purchased, eta, allocated };
    enum WaitingColumn : int { waiting_orderid = 2, waiting_qty = 3, waiting_id = 6 };
};

/// The allocated lines (`l`) of order ?2 for SKU ?1, with their allocations (`a`).
#define ALLOCATION_SQLITE_ORDER_LINES \
    "FROM order_lines l JOIN allocations a ON a.orderline_id = l.id WHERE l.orderid = ?2 AND l.sku = ?1"

/// ProductQuery's rows and the lines of order ?2, in one statement and so from one snapshot (the Allocate
/// lookup). Rows of lines have a NULL version, a batch id and the columns of LineColumn.
struct ProductAndOrderQuery {
    static constexpr const char* sql =
        ALLOCATION_SQLITE_PRODUCT_ROWS " UNION ALL SELECT NULL, a.batch_id, NULL, NULL, NULL, l.qty, a.id "
        ALLOCATION_SQLITE_ORDER_LINES;
    enum LineColumn : int { line_batch_id = 1, line_qty = 5, line_allocation_id = 6 };
};

/// Whether a kept product is still the stored one (ProductCache): the version of SKU ?1 and whether order ?2
/// has a line of it.
struct VersionAndOrderQuery {
    static constexpr const char* sql =
        "SELECT version_number, EXISTS (SELECT 1 FROM order_lines WHERE orderid = ?2 AND sku = ?1) "
        "FROM products WHERE sku = ?1";
    enum Column : int { version, order_has_line };
};

/// The allocated lines of order ?2 for SKU ?1.
struct OrderLinesQuery {
    static constexpr const char* sql = "SELECT a.id, a.batch_id, l.qty " ALLOCATION_SQLITE_ORDER_LINES;
    enum Column : int { allocation_id, batch_id, qty };
};

/// Every line of the batch with row id ?1, oldest first.
struct BatchLinesQuery {
    static constexpr const char* sql =
        "SELECT a.id, l.orderid, l.qty FROM allocations a JOIN order_lines l "
        "ON l.id = a.orderline_id WHERE a.batch_id = ?1 ORDER BY a.id";
    enum Column : int { allocation_id, orderid, qty };
};

/// The read model's rows of order ?1, in the order they were added.
struct ViewQuery {
    static constexpr const char* sql =
        "SELECT sku, batchref FROM allocations_view WHERE orderid = ?1 ORDER BY rowid";
    enum Column : int { sku, batchref };
};

/// The columns of an outbox row as the queries below read them: ports::OutboxMessage without its id (made of the
/// first three), and the commit order.
struct OutboxColumns {
    enum Column : int { sku, version, position, type, payload, created_at, attempts, last_error, next_attempt_at, seq };
};
#define ALLOCATION_SQLITE_OUTBOX_COLUMNS \
    "sku, version_number, position, event_type, payload, created_at, attempts, last_error, next_attempt_at, seq"
/// The undelivered rows, the ones the partial index outbox_undelivered holds.
#define ALLOCATION_SQLITE_UNDELIVERED "FROM outbox WHERE delivered_at IS NULL"

/// Up to ?1 undelivered rows, oldest first.
struct OutboxUndeliveredQuery : OutboxColumns {
    static constexpr const char* sql =
        "SELECT " ALLOCATION_SQLITE_OUTBOX_COLUMNS " " ALLOCATION_SQLITE_UNDELIVERED " ORDER BY seq LIMIT ?1";
};

/// Leases to ?1 until ?3 up to ?4 of the rows that are undelivered, due at ?2 and not leased, oldest first, and
/// returns them (in no particular order: the reader sorts by seq).
struct OutboxClaimQuery : OutboxColumns {
    static constexpr const char* sql =
        "UPDATE outbox SET lease_owner = ?1, lease_until = ?3 WHERE seq IN (SELECT seq " ALLOCATION_SQLITE_UNDELIVERED
        " AND next_attempt_at <= ?2 AND (lease_owner IS NULL OR lease_until <= ?2) ORDER BY seq LIMIT ?4) "
        "RETURNING " ALLOCATION_SQLITE_OUTBOX_COLUMNS;
};

/// The stored version of product ?1 and the position of its next outbox row at that version.
struct OutboxNextPositionQuery {
    static constexpr const char* sql =
        "SELECT p.version_number, coalesce((SELECT max(o.position) + 1 FROM outbox o WHERE o.sku = p.sku AND "
        "o.version_number = p.version_number), 0) FROM products p WHERE p.sku = ?1";
    enum Column : int { version, position };
};

/// Changes to the undelivered row of outbox id (?1, ?2, ?3), each of which ends its lease; `release` only while
/// ?4 leases it, `failed` also while nobody does (its committer delivers it).
#define ALLOCATION_SQLITE_UNLEASED_ROW                                                                            \
    "lease_owner = NULL, lease_until = NULL "                                                                     \
    "WHERE sku = ?1 AND version_number = ?2 AND position = ?3 AND delivered_at IS NULL"
struct OutboxUpdates {
    static constexpr const char* delivered = "UPDATE outbox SET delivered_at = ?4, " ALLOCATION_SQLITE_UNLEASED_ROW;
    static constexpr const char* failed =
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?5, last_error = ?6, "
        ALLOCATION_SQLITE_UNLEASED_ROW " AND (lease_owner IS NULL OR lease_owner = ?4)";
    static constexpr const char* release = "UPDATE outbox SET " ALLOCATION_SQLITE_UNLEASED_ROW " AND lease_owner = ?4";
};

/// The number of undelivered rows, and the creation time of the oldest (NULL when there is none).
struct OutboxBacklogQuery {
    static constexpr const char* sql =
        "SELECT count(*), (SELECT created_at " ALLOCATION_SQLITE_UNDELIVERED " ORDER BY seq LIMIT 1) "
        ALLOCATION_SQLITE_UNDELIVERED;
    enum Column : int { undelivered, oldest };
};

/// Deletes the rows delivered before ?1, except each product's newest row (which numbers the product's next one).
struct OutboxPurge {
    static constexpr const char* sql =
        "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?1 AND EXISTS (SELECT 1 FROM outbox n "
        "WHERE n.sku = outbox.sku AND (n.version_number, n.position) > (outbox.version_number, outbox.position))";
};

/// Every statement the adapter runs, prepared once per connection.
struct Statements {
    explicit Statements(SQLite::Database& db)
        : begin_read(db, "BEGIN"),
          begin_write(db, "BEGIN IMMEDIATE"),
          commit(db, "COMMIT"),
          select_product(db, ProductQuery::sql),
          select_product_and_order(db, ProductAndOrderQuery::sql),
          select_version(db, "SELECT version_number FROM products WHERE sku = ?1"),
          select_version_and_order(db, VersionAndOrderQuery::sql),
          select_order_lines(db, OrderLinesQuery::sql),
          select_batch_lines(db, BatchLinesQuery::sql),
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
          insert_waiting(db, "INSERT INTO waiting_lines (orderid, sku, qty) VALUES (?1, ?2, ?3)"),
          delete_waiting(db, "DELETE FROM waiting_lines WHERE orderid = ?1 AND sku = ?2 AND qty = ?3"),
          view_add(db,
                   "INSERT INTO allocations_view (orderid, sku, batchref) VALUES (?1, ?2, ?3) "
                   "ON CONFLICT (orderid, sku) DO UPDATE SET batchref = excluded.batchref"),
          view_remove(db, "DELETE FROM allocations_view WHERE orderid = ?1 AND sku = ?2"),
          view_select(db, ViewQuery::sql),
          outbox_insert(db,
                        "INSERT INTO outbox (sku, version_number, position, event_type, payload, created_at, "
                        "next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
          outbox_next_position(db, OutboxNextPositionQuery::sql),
          outbox_undelivered(db, OutboxUndeliveredQuery::sql),
          outbox_claim(db, OutboxClaimQuery::sql),
          outbox_delivered(db, OutboxUpdates::delivered),
          outbox_failed(db, OutboxUpdates::failed),
          outbox_release(db, OutboxUpdates::release),
          outbox_backlog(db, OutboxBacklogQuery::sql),
          outbox_purge(db, OutboxPurge::sql),
          select_processed(db, "SELECT 1 FROM processed_messages WHERE id = ?1"),
          // A conflict changes no row: the commit sees that and reports the lost race (ConcurrencyError).
          insert_processed(db,
                           "INSERT INTO processed_messages (id, processed_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING"),
          purge_processed(db, "DELETE FROM processed_messages WHERE processed_at < ?1") {}

    SQLite::Statement begin_read, begin_write, commit;
    SQLite::Statement select_product, select_product_and_order, select_version, select_version_and_order,
        select_order_lines, select_batch_lines, select_batch_sku;
    SQLite::Statement insert_product, update_version, insert_batch, update_batch, insert_line, insert_allocation,
        delete_line, insert_waiting, delete_waiting;
    SQLite::Statement view_add, view_remove, view_select;
    SQLite::Statement outbox_insert, outbox_next_position, outbox_undelivered, outbox_claim, outbox_delivered,
        outbox_failed, outbox_release, outbox_backlog, outbox_purge;
    SQLite::Statement select_processed, insert_processed, purge_processed;
};

#undef ALLOCATION_SQLITE_UNLEASED_ROW
#undef ALLOCATION_SQLITE_UNDELIVERED
#undef ALLOCATION_SQLITE_OUTBOX_COLUMNS
#undef ALLOCATION_SQLITE_ORDER_LINES
#undef ALLOCATION_SQLITE_PRODUCT_ROWS

}  // namespace allocation::sqlite::detail
