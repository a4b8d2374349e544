// PostgreSQL Outbox: one table, written by each unit of work's commit, claimed (FOR UPDATE SKIP LOCKED) and marked
// by relays in any number of processes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "allocation/adapters/postgres/database.hpp"
#include "allocation/adapters/postgres/statements.hpp"
#include "allocation/detail/sql_outbox.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/outbox.hpp"
#include "allocation/ports/outbox.hpp"
#include "allocation/serialisation/json.hpp"

namespace allocation::postgres {

namespace detail {

/// The stored version of product `sku` and the position of its next row at that version: where the rows of a
/// product that this commit did not change go (its read version may be older than the stored one).
inline std::pair<std::int64_t, std::int64_t> outbox_next_position(pqxx::transaction_base& tx, const std::string& sku) {
    const auto rows = run(tx, sql::outbox_next_position, sku);
    if (rows.empty()) throw StorageError("product " + sku + " has no stored row for its outbox rows");
    return {rows[0][0].as<std::int64_t>(), rows[0][1].as<std::int64_t>()};
}

/// Every row of `rows` (read with OutboxColumns), oldest first.
inline std::vector<ports::OutboxMessage> outbox_messages(const pqxx::result& rows) {
    using C = OutboxColumns;
    std::vector<std::pair<std::int64_t, ports::OutboxMessage>> sorted;
    sorted.reserve(rows.size());
    for (const auto& row : rows) {
        ports::OutboxMessage message;
        message.sku = row[C::sku].as<std::string>();
        message.version = row[C::version].as<std::int64_t>();
        message.position = row[C::position].as<std::int64_t>();
        message.id = outbox_id(message.sku, message.version, message.position);
        message.event = event_from_json(row[C::type].as<std::string>(), row[C::payload].as<std::string>());
        message.created_at = outbox_time(row[C::created_at].as<std::int64_t>());
        message.attempts = row[C::attempts].as<int>();
        message.last_error = row[C::last_error].as<std::string>();
        message.next_attempt_at = outbox_time(row[C::next_attempt_at].as<std::int64_t>());
        sorted.emplace_back(row[C::seq].as<std::int64_t>(), std::move(message));
    }
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<ports::OutboxMessage> messages;
    messages.reserve(sorted.size());
    for (auto& row : sorted) messages.push_back(std::move(row.second));
    return messages;
}

/// Marks the rows of `ids` delivered at `at`, in one statement. An id that outbox_id did not make names no row.
inline void write_marks(pqxx::transaction_base& tx, const std::vector<std::string>& ids, std::int64_t at) {
    std::string values;
    for (const std::string& id : ids) {
        const auto key = parse_outbox_id(id);
        if (!key) continue;
        values += fmt::format("{}({},{},{})", values.empty() ? "" : ",", tx.quote(std::string(key->sku)), key->version,
                              key->position);
    }
    if (values.empty()) return;
    tx.exec(fmt::format("UPDATE outbox o SET delivered_at = {}, lease_owner = NULL, lease_until = NULL FROM (VALUES {}) "
                        "AS d(sku, version_number, position) WHERE o.sku = d.sku AND o.version_number = "
                        "d.version_number AND o.position = d.position AND o.delivered_at IS NULL",
                        at, values));
}

/// The outbox's statements in one transaction, for allocation::detail::SqlOutbox.
struct OutboxRows {
    pqxx::transaction_base* tx;

    std::vector<ports::OutboxMessage> undelivered(std::int64_t limit) {
        return outbox_messages(run(*tx, sql::outbox_undelivered, limit));
    }
    std::vector<ports::OutboxMessage> claim(const std::string& owner, std::int64_t now, std::int64_t lease_until,
                                            std::int64_t limit) {
        return outbox_messages(run(*tx, sql::outbox_claim, owner, now, lease_until, limit));
    }
    bool failed(const OutboxKey& key, const std::string& owner, std::int64_t next_attempt_at,
                const std::string& error) {
        return run(*tx, sql::outbox_failed, std::string(key.sku), key.version, key.position, owner, next_attempt_at,
                   error)
                   .affected_rows() == 1;
    }
    bool release(const OutboxKey& key, const std::string& owner) {
        return run(*tx, sql::outbox_release, std::string(key.sku), key.version, key.position, owner)
                   .affected_rows() == 1;
    }
    ports::OutboxBacklog backlog() {
        const auto rows = run(*tx, sql::outbox_backlog);
        ports::OutboxBacklog backlog;
        backlog.undelivered = rows[0][0].as<std::size_t>();
        if (!rows[0][1].is_null()) backlog.oldest = outbox_time(rows[0][1].as<std::int64_t>());
        return backlog;
    }
    std::size_t purge(std::int64_t delivered_before) {
        return static_cast<std::size_t>(run(*tx, sql::outbox_purge, delivered_before).affected_rows());
    }
};

}  // namespace detail

/// The stored outbox, for relays: see allocation::detail::SqlOutbox. Each call takes a connection nobody else is
/// using and runs one statement (its own transaction). The delivery marks held in memory are written in batches, in
/// a statement of their own: once `marks_batch` are held, before the next listing, claim, count or purge, or at
/// flush(). A claim skips the rows another claim is taking, so relays in several threads or processes never claim
/// one row at once.
///
/// "Oldest first" is the order of `seq`, drawn when a commit inserts its rows: the commit order of one product's
/// rows (its commits are serialised by its row lock and the version's compare-and-set), and across products the order their
/// commits wrote their rows, which two commits under way at once may finish in the other order.
class Outbox : public allocation::detail::SqlOutbox<Outbox> {
    friend class allocation::detail::SqlOutbox<Outbox>;

    // Held marks are written, in a statement of their own, once this many are held.
    static constexpr std::size_t marks_batch = 512;

public:
    explicit Outbox(Database& db) noexcept : SqlOutbox(db.marks_), db_(&db) {}

private:
    // One statement on a connection of its own, in its own transaction.
    template <typename Fn>
    auto read(std::string_view doing, Fn&& fn) const -> std::invoke_result_t<Fn&, detail::OutboxRows&> {
        return db_->one_statement(doing, [&](pqxx::transaction_base& tx) {
            detail::OutboxRows rows{&tx};
            return fn(rows);
        });
    }

    template <typename Fn>
    auto write(std::string_view doing, Fn&& fn) const -> std::invoke_result_t<Fn&, detail::OutboxRows&> {
        flush_marks();
        return read(doing, fn);
    }

    template <typename Fn>
    auto update(std::string_view doing, Fn&& fn) const -> std::invoke_result_t<Fn&, detail::OutboxRows&> {
        return read(doing, fn);
    }

    void flush_marks() const {
        if (marks().empty()) return;
        allocation::detail::TakenMarks taken(marks());
        db_->one_statement("writing delivery marks", [&](pqxx::transaction_base& tx) {
            detail::write_marks(tx, taken.ids(), outbox_microseconds(taken.at()));
        });
        taken.done();
    }

    Database* db_;
};

static_assert(ports::diagnose_outbox<Outbox>());

}  // namespace allocation::postgres
