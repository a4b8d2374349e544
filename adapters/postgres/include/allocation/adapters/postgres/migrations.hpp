// The schema's history, and the upgrade that several processes may start at once: one runs it, under an advisory
// lock, and the others find it done.
#pragma once

#include <iterator>
#include <string>

#include <pqxx/pqxx>

#include "allocation/adapters/postgres/errors.hpp"
#include "allocation/detail/schema_version.hpp"

namespace allocation::postgres {

/// The newest schema version this library knows; stored in the table schema_version.
inline constexpr int schema_version = 1;

namespace detail {

/// The key of the transaction-scoped advisory lock under which the schema is checked and upgraded.
inline constexpr long long migration_lock = 0x616c6c6f63617469;  // "allocati"

/// migrations[i] takes the schema from version i to version i + 1. A migration that has shipped is never edited:
/// databases out there went through its text. What changes goes into a new one.
///
/// Version 1, the SQLite adapter's schema 6 in PostgreSQL's terms: products with their version (the
/// compare-and-set of every commit), batches with their allocated quantity maintained by each commit, one row
/// per allocated line (an order has one line per SKU), waiting lines, the allocations read model, the outbox and
/// the processed message ids. Every lookup reads by an index: the lines of one order (order_lines_pkey's
/// (orderid, sku)), of one batch (order_lines_by_batch), the waiting lines of a product; the relay reads the
/// undelivered rows only (outbox_undelivered). Times are microseconds since the Unix epoch, as in SQLite.
inline constexpr const char* migrations[] = {
    R"sql(
CREATE TABLE products (
    sku text PRIMARY KEY,
    version_number bigint NOT NULL
);
CREATE TABLE batches (
    id bigserial PRIMARY KEY,
    reference text NOT NULL UNIQUE,
    sku text NOT NULL REFERENCES products (sku),
    purchased_quantity integer NOT NULL,
    eta date,
    allocated_quantity integer NOT NULL DEFAULT 0
);
CREATE INDEX batches_by_sku ON batches (sku);
CREATE TABLE order_lines (
    id bigserial,
    orderid text NOT NULL,
    sku text NOT NULL,
    qty integer NOT NULL,
    batch_id bigint NOT NULL REFERENCES batches (id),
    PRIMARY KEY (orderid, sku)
);
CREATE INDEX order_lines_by_batch ON order_lines (batch_id, id);
CREATE TABLE waiting_lines (
    id bigserial PRIMARY KEY,
    orderid text NOT NULL,
    sku text NOT NULL REFERENCES products (sku),
    qty integer NOT NULL,
    UNIQUE (orderid, sku)
);
CREATE INDEX waiting_lines_by_sku ON waiting_lines (sku, id);
CREATE TABLE allocations_view (
    id bigserial PRIMARY KEY,
    orderid text NOT NULL,
    sku text NOT NULL,
    batchref text NOT NULL,
    UNIQUE (orderid, sku)
);
CREATE TABLE outbox (
    seq bigserial PRIMARY KEY,
    sku text NOT NULL,
    version_number bigint NOT NULL,
    position bigint NOT NULL,
    event_type text NOT NULL,
    payload text NOT NULL,
    created_at bigint NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    next_attempt_at bigint NOT NULL,
    lease_owner text,
    lease_until bigint,
    delivered_at bigint,
    UNIQUE (sku, version_number, position)
);
CREATE INDEX outbox_undelivered ON outbox (seq) WHERE delivered_at IS NULL;
CREATE TABLE processed_messages (
    id text PRIMARY KEY,
    processed_at bigint NOT NULL
);
)sql",
};
static_assert(std::size(migrations) == schema_version);

/// Refuses a database whose schema is newer than this library knows.
inline void refuse_if_newer(const std::string& where, int found) {
    allocation::detail::refuse_if_newer(describe, where, found, schema_version);
}

/// The database's schema version: 0 before the first migration.
inline int stored_version(pqxx::transaction_base& tx) {
    const auto exists = tx.exec("SELECT to_regclass('schema_version') IS NOT NULL");
    if (!exists[0][0].as<bool>()) return 0;
    const auto version = tx.exec("SELECT max(version) FROM schema_version");
    return version[0][0].is_null() ? 0 : version[0][0].as<int>();
}

/// Brings the schema up to date, all migrations in one transaction, under the advisory lock: processes that start
/// together wait for the first, then find the schema up to date. A newer schema is refused before anything is
/// written.
inline void migrate(pqxx::connection& connection, const std::string& where) {
    pqxx::work tx(connection);
    tx.exec("SET LOCAL client_min_messages = warning");
    tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(migration_lock) + ")");
    const int found = stored_version(tx);  // read after the lock: whoever held it has committed
    refuse_if_newer(where, found);
    if (found == schema_version) return;  // the transaction rolls back, releasing the lock
    if (found == 0) tx.exec("CREATE TABLE schema_version (version integer NOT NULL)");
    for (int version = found; version < schema_version; ++version) tx.exec(migrations[version]);
    tx.exec("DELETE FROM schema_version");
    tx.exec("INSERT INTO schema_version (version) VALUES (" + std::to_string(schema_version) + ")");
    tx.commit();
}

}  // namespace detail

}  // namespace allocation::postgres
