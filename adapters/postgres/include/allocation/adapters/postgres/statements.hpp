// The SQL the adapter runs, each statement with its name, prepared once per connection.
#pragma once

#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

namespace allocation::postgres::detail {

/// One prepared statement: its name on the connection and its text.
struct Sql {
    const char* name;
    const char* text;
};

/// The rows of a product lookup, from one statement and so from one snapshot: the product with its batches
/// (kind 0; a product without batches gives one row whose batch columns are NULL), its waiting lines (kind 1),
/// the lines of the orders in text[] $2 (kind 2) and, with `with_batch_lines` only, every line of the batches
/// whose references are in text[] $3 (kind 3). Each reads by an index, so a lookup costs the same however long
/// the product's history is; an order's lookup runs `sql`, which has no part that could read a batch's lines.
///
/// The same statement locks the product's row (`locked`, FOR UPDATE) until the transaction ends, and gives the
/// version of the row it locked (kind 4). A locking clause waits for a transaction that holds the row and then
/// locks the row as that transaction left it, while the statement's other rows come from the snapshot it took
/// when it began: a locked version that differs from the product row's (kind 0) says that the rows are older
/// than the lock, and the lookup runs again, holding the lock (ProductTables::read).
#define ALLOCATION_POSTGRES_PRODUCT_ROWS                                                                          \
    "WITH locked AS (SELECT version_number FROM products WHERE sku = $1 FOR UPDATE) "                             \
    "SELECT 0, p.version_number, b.id, b.reference, b.purchased_quantity, to_char(b.eta, 'YYYY-MM-DD'), "        \
    "b.allocated_quantity FROM products p LEFT JOIN batches b ON b.sku = p.sku WHERE p.sku = $1 "                \
    "UNION ALL SELECT 4, l.version_number, NULL, NULL, NULL, NULL, NULL FROM locked l "                          \
    "UNION ALL SELECT 1, w.id, NULL, w.orderid, w.qty, NULL, NULL FROM waiting_lines w WHERE w.sku = $1 "        \
    "UNION ALL SELECT 2, l.id, l.batch_id, l.orderid, l.qty, NULL, NULL FROM order_lines l "                     \
    "WHERE l.orderid = ANY ($2::text[]) AND l.sku = $1"
struct ProductQuery {
    static constexpr Sql sql{"allocation_select_product", ALLOCATION_POSTGRES_PRODUCT_ROWS};
    static constexpr Sql with_batch_lines{
        "allocation_select_product_batches",
        ALLOCATION_POSTGRES_PRODUCT_ROWS " UNION ALL SELECT 3, l.id, l.batch_id, l.orderid, l.qty, NULL, NULL "
        "FROM batches b JOIN order_lines l ON l.batch_id = b.id WHERE b.reference = ANY ($3::text[]) AND b.sku = $1"};
    enum Kind : int { product, waiting, order_line, batch_line, locked_version };
    // Product rows: version, then the batch. Line rows: line id, batch id, order id, qty. Lock row: version.
    enum Column : int { kind, version, batch_id, reference, purchased, eta, allocated };
    enum LineColumn : int { line_id = 1, line_batch_id = 2, line_orderid = 3, line_qty = 4 };
};

/// Outbox rows as the queries read them: ports::OutboxMessage without its id (made of the first three), and the
/// commit order.
struct OutboxColumns {
    enum Column : int { sku, version, position, type, payload, created_at, attempts, last_error, next_attempt_at, seq };
};
#define ALLOCATION_POSTGRES_OUTBOX_COLUMNS \
    "sku, version_number, position, event_type, payload, created_at, attempts, last_error, next_attempt_at, seq"
/// The undelivered rows, the ones the partial index outbox_undelivered holds.
#define ALLOCATION_POSTGRES_UNDELIVERED "FROM outbox WHERE delivered_at IS NULL"

namespace sql {
inline constexpr Sql select_product = ProductQuery::sql;
inline constexpr Sql select_product_batches = ProductQuery::with_batch_lines;
/// Whether a kept product is still the stored one (ProductCache): the version of SKU $1, whose row it locks as a
/// lookup does (the version is the locked row's, the latest committed), and, for `select_version_and_order`,
/// whether order $2 has a line of it (from the statement's snapshot, which is the latest one whenever the version
/// is the kept product's: every change to a product's lines moves its version up).
inline constexpr Sql select_version{"allocation_select_version",
                                    "SELECT version_number FROM products WHERE sku = $1 FOR UPDATE"};
inline constexpr Sql select_version_and_order{
    "allocation_select_version_and_order",
    "SELECT version_number, EXISTS (SELECT 1 FROM order_lines WHERE orderid = $2 AND sku = $1) "
    "FROM products WHERE sku = $1 FOR UPDATE"};
inline constexpr Sql select_batch_sku{"allocation_select_batch_sku", "SELECT sku FROM batches WHERE reference = $1"};
inline constexpr Sql insert_product{"allocation_insert_product",
                                    "INSERT INTO products (sku, version_number) VALUES ($1, $2)"};
inline constexpr Sql insert_batch{"allocation_insert_batch",
                                  "INSERT INTO batches (reference, sku, purchased_quantity, eta, allocated_quantity) "
                                  "VALUES ($1, $2, $3, NULLIF($4, '')::date, $5) RETURNING id"};
inline constexpr Sql delete_line{
    "allocation_delete_line", "DELETE FROM order_lines WHERE orderid = $1 AND sku = $2 AND qty = $3 AND batch_id = $4"};
inline constexpr Sql delete_waiting{"allocation_delete_waiting",
                                    "DELETE FROM waiting_lines WHERE orderid = $1 AND sku = $2 AND qty = $3"};
inline constexpr Sql view_add{"allocation_view_add",
                              "INSERT INTO allocations_view (orderid, sku, batchref) VALUES ($1, $2, $3) "
                              "ON CONFLICT (orderid, sku) DO UPDATE SET batchref = excluded.batchref"};
inline constexpr Sql view_remove{"allocation_view_remove", "DELETE FROM allocations_view WHERE orderid = $1 AND sku = $2"};
/// The rows of one commit, each table's as arrays (one element per row, in the order the commit met them), in one
/// statement: the compare-and-set of each changed product's version (text[] $1 from bigint[] $3 to $2), the order
/// lines (text[] $4, text[] $5, integer[] $6, bigint[] $7) and waiting lines ($8, $9, $10) inserted, the batch rows
/// updated (bigint[] $11 to purchased integer[] $12, allocated $13), the allocations view's rows set ($14, $15, $16),
/// the outbox rows ($17 to $23) and the processed message ids (text[] $24, at bigint $25). Its one row counts the
/// versions set, the outbox rows and the message ids stored: a conflict on either of the last two changes no row.
inline constexpr Sql commit_rows{
    "allocation_commit_rows",
    "WITH versions AS (UPDATE products p SET version_number = v.new FROM unnest($1::text[], $2::bigint[], "
    "$3::bigint[]) AS v(sku, new, old) WHERE p.sku = v.sku AND p.version_number = v.old RETURNING 1), "
    "lines AS (INSERT INTO order_lines (orderid, sku, qty, batch_id) "
    "SELECT * FROM unnest($4::text[], $5::text[], $6::integer[], $7::bigint[])), "
    "waiting AS (INSERT INTO waiting_lines (orderid, sku, qty) SELECT * FROM unnest($8::text[], $9::text[], "
    "$10::integer[])), "
    "batch_rows AS (UPDATE batches b SET purchased_quantity = v.purchased, allocated_quantity = v.allocated "
    "FROM unnest($11::bigint[], $12::integer[], $13::integer[]) AS v(id, purchased, allocated) WHERE b.id = v.id), "
    "view_rows AS (INSERT INTO allocations_view (orderid, sku, batchref) SELECT * FROM unnest($14::text[], "
    "$15::text[], $16::text[]) ON CONFLICT (orderid, sku) DO UPDATE SET batchref = excluded.batchref), "
    "outbox_rows AS (INSERT INTO outbox (sku, version_number, position, event_type, payload, created_at, "
    "next_attempt_at) SELECT * FROM unnest($17::text[], $18::bigint[], $19::bigint[], $20::text[], $21::text[], "
    "$22::bigint[], $23::bigint[]) ON CONFLICT DO NOTHING RETURNING 1), "
    "processed AS (INSERT INTO processed_messages (id, processed_at) SELECT m.id, $25 FROM unnest($24::text[]) "
    "AS m(id) ON CONFLICT DO NOTHING RETURNING 1) "
    "SELECT (SELECT count(*) FROM versions), (SELECT count(*) FROM outbox_rows), (SELECT count(*) FROM processed)"};
inline constexpr Sql view_select{"allocation_view_select",
                                 "SELECT sku, batchref FROM allocations_view WHERE orderid = $1 ORDER BY id"};
/// The stored version of product $1 and the position of its next outbox row at that version.
inline constexpr Sql outbox_next_position{
    "allocation_outbox_next_position",
    "SELECT p.version_number, coalesce((SELECT max(o.position) + 1 FROM outbox o WHERE o.sku = p.sku AND "
    "o.version_number = p.version_number), 0) FROM products p WHERE p.sku = $1"};
inline constexpr Sql outbox_undelivered{
    "allocation_outbox_undelivered",
    "SELECT " ALLOCATION_POSTGRES_OUTBOX_COLUMNS " " ALLOCATION_POSTGRES_UNDELIVERED " ORDER BY seq LIMIT $1"};
/// Leases to $1 until $3 up to $4 of the rows that are undelivered, due at $2 and not leased, oldest first. Rows
/// another claim holds locked are skipped, not waited for; one that a claim committed meanwhile is checked again
/// as it now is (READ COMMITTED re-reads a locked row), so two claims never return one row.
inline constexpr Sql outbox_claim{
    "allocation_outbox_claim",
    "UPDATE outbox SET lease_owner = $1, lease_until = $3 WHERE seq IN (SELECT seq " ALLOCATION_POSTGRES_UNDELIVERED
    " AND next_attempt_at <= $2 AND (lease_owner IS NULL OR lease_until <= $2) ORDER BY seq LIMIT $4 "
    "FOR UPDATE SKIP LOCKED) RETURNING " ALLOCATION_POSTGRES_OUTBOX_COLUMNS};
/// Changes to the undelivered row of outbox id ($1, $2, $3), each of which ends its lease; `outbox_release` only
/// while $4 leases it, `outbox_failed` also while nobody does (its committer delivers it).
#define ALLOCATION_POSTGRES_UNLEASED_ROW                                                                          \
    "lease_owner = NULL, lease_until = NULL "                                                                     \
    "WHERE sku = $1 AND version_number = $2 AND position = $3 AND delivered_at IS NULL"
inline constexpr Sql outbox_failed{"allocation_outbox_failed",
                                   "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $5, last_error = $6, "
                                   ALLOCATION_POSTGRES_UNLEASED_ROW " AND (lease_owner IS NULL OR lease_owner = $4)"};
inline constexpr Sql outbox_release{"allocation_outbox_release",
                                    "UPDATE outbox SET " ALLOCATION_POSTGRES_UNLEASED_ROW " AND lease_owner = $4"};
inline constexpr Sql outbox_backlog{
    "allocation_outbox_backlog",
    "SELECT count(*), (SELECT created_at " ALLOCATION_POSTGRES_UNDELIVERED " ORDER BY seq LIMIT 1) "
    ALLOCATION_POSTGRES_UNDELIVERED};
/// Delivered rows from before $1, but each product's newest, which numbers its next row.
inline constexpr Sql outbox_purge{
    "allocation_outbox_purge",
    "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < $1 AND EXISTS (SELECT 1 FROM outbox n "
    "WHERE n.sku = outbox.sku AND (n.version_number, n.position) > (outbox.version_number, outbox.position))"};
inline constexpr Sql select_processed{"allocation_select_processed", "SELECT 1 FROM processed_messages WHERE id = $1"};
inline constexpr Sql purge_processed{"allocation_purge_processed",
                                     "DELETE FROM processed_messages WHERE processed_at < $1"};
inline constexpr Sql select_schema_version{"allocation_select_schema_version", "SELECT max(version) FROM schema_version"};

inline constexpr const Sql* all[] = {
    &select_product,     &select_product_batches, &select_version, &select_version_and_order, &select_batch_sku,
    &insert_product,     &insert_batch,           &delete_line,    &delete_waiting,           &commit_rows,
    &view_add,           &view_remove,            &view_select,    &outbox_next_position,     &outbox_undelivered,
    &outbox_claim,       &outbox_failed,          &outbox_release, &outbox_backlog,           &outbox_purge,
    &select_processed,   &purge_processed,        &select_schema_version};
}  // namespace sql
#undef ALLOCATION_POSTGRES_UNLEASED_ROW
#undef ALLOCATION_POSTGRES_UNDELIVERED
#undef ALLOCATION_POSTGRES_OUTBOX_COLUMNS
#undef ALLOCATION_POSTGRES_PRODUCT_ROWS

/// Prepares every statement on a fresh connection.
inline void prepare_statements(pqxx::connection& connection) {
    for (const Sql* statement : sql::all) connection.prepare(statement->name, statement->text);
}

/// Runs prepared statement `statement` in `tx` with the arguments as its parameters $1, $2...
template <typename... Args>
pqxx::result run(pqxx::transaction_base& tx, const Sql& statement, Args&&... args) {
    return tx.exec_prepared(statement.name, std::forward<Args>(args)...);
}

/// The text of a PostgreSQL text[] holding `items` (for `= ANY ($n::text[])`): each element quoted, with `"` and
/// `\` escaped, so any text survives.
inline std::string text_array(const std::vector<std::string>& items) {
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += ',';
        out += '"';
        for (char c : items[i]) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    }
    out += '}';
    return out;
}

/// The text of a PostgreSQL array of the integers `items` (for `$n::bigint[]`, `$n::integer[]`).
template <typename Integer>
std::string number_array(const std::vector<Integer>& items) {
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += ',';
        out += std::to_string(items[i]);
    }
    out += '}';
    return out;
}

}  // namespace allocation::postgres::detail
