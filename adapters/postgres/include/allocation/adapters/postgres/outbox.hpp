// PostgreSQL Outbox: one table, written by each unit of work's commit, claimed (FOR UPDATE SKIP LOCKED) and marked
// by relays in any number of processes.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "allocation/adapters/postgres/database.hpp"
#include "allocation/adapters/postgres/statements.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/outbox.hpp"
#include "allocation/ports/outbox.hpp"

namespace allocation::postgres {

namespace detail {

/// Stores one row, in the transaction of the commit that raised its event. Another commit that stored the same
/// id first (two commits of a product they did not change) lost no data but a race: ConcurrencyError.
inline void outbox_insert(pqxx::transaction_base& tx, const ports::OutboxMessage& message) {
    try {
        run(tx, sql::outbox_insert, message.sku, message.version, message.position,
            std::string(event_type(message.event)), to_json(message.event), outbox_microseconds(message.created_at),
            outbox_microseconds(message.next_attempt_at));
    } catch (const pqxx::unique_violation&) {
        throw ConcurrencyError("outbox row " + message.id + " was stored by someone else meanwhile");
    }
}

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

}  // namespace detail

/// The stored outbox, for relays. Each call takes a connection nobody else is using and runs one statement (its
/// own transaction), after the one that writes the delivery marks held in memory, if any. A claim skips the rows
/// another claim is taking, so relays in several threads or processes never claim one row at once. The Database
/// must outlive it. Units of work write its rows, in the transaction of their commit.
///
/// "Oldest first" is the order of `seq`, drawn when a commit inserts its rows: the commit order of one product's
/// rows (its commits are serialised by the version's compare-and-set), and across products the order their
/// commits wrote their rows, which two commits under way at once may finish in the other order.
class Outbox {
public:
    explicit Outbox(Database& db) noexcept : db_(&db) {}

    std::vector<ports::OutboxMessage> undelivered(std::size_t limit) const {
        flush_marks();
        return run("listing the outbox", [&](pqxx::transaction_base& tx) {
            return detail::outbox_messages(detail::run(tx, detail::sql::outbox_undelivered, bounded(limit)));
        });
    }

    std::vector<ports::OutboxMessage> claim(std::string_view owner, ports::OutboxTime now,
                                            ports::OutboxTime lease_until, std::size_t limit) {
        flush_marks();
        return run("claiming outbox rows", [&](pqxx::transaction_base& tx) {
            return detail::outbox_messages(detail::run(tx, detail::sql::outbox_claim, std::string(owner),
                                                       outbox_microseconds(now), outbox_microseconds(lease_until),
                                                       bounded(limit)));
        });
    }

    /// Held in memory and written in batches: once `marks_batch` are held, at the next claim, count or purge, or at
    /// flush().
    void mark_delivered(std::span<const std::string> ids, ports::OutboxTime now) {
        db_->marks_.add(ids, now);
        if (db_->marks_.size() >= marks_batch) flush_marks();
    }

    /// Writes the marks held in memory, in one statement; nothing when there are none.
    void flush() { flush_marks(); }

    bool record_failure(std::string_view id, std::string_view owner, ports::OutboxTime next_attempt_at,
                        std::string_view error) {
        const auto key = parse_outbox_id(id);
        if (!key) return false;
        return run("recording a failed delivery", [&](pqxx::transaction_base& tx) {
            return detail::run(tx, detail::sql::outbox_failed, std::string(key->sku), key->version, key->position,
                               std::string(owner), outbox_microseconds(next_attempt_at), std::string(error))
                       .affected_rows() == 1;
        });
    }

    void release(std::string_view id, std::string_view owner) {
        const auto key = parse_outbox_id(id);
        if (!key) return;
        run("releasing an outbox row", [&](pqxx::transaction_base& tx) {
            detail::run(tx, detail::sql::outbox_release, std::string(key->sku), key->version, key->position,
                        std::string(owner));
        });
    }

    ports::OutboxBacklog backlog() const {
        flush_marks();
        return run("reading the outbox's backlog", [&](pqxx::transaction_base& tx) {
            const auto rows = detail::run(tx, detail::sql::outbox_backlog);
            ports::OutboxBacklog backlog;
            backlog.undelivered = rows[0][0].as<std::size_t>();
            if (!rows[0][1].is_null()) backlog.oldest = outbox_time(rows[0][1].as<std::int64_t>());
            return backlog;
        });
    }

    /// One DELETE, in a transaction of its own.
    std::size_t purge_delivered(ports::OutboxTime delivered_before) {
        flush_marks();
        return run("purging delivered outbox rows", [&](pqxx::transaction_base& tx) {
            return static_cast<std::size_t>(
                detail::run(tx, detail::sql::outbox_purge, outbox_microseconds(delivered_before)).affected_rows());
        });
    }

private:
    static std::int64_t bounded(std::size_t limit) noexcept {
        return static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX));
    }

    static constexpr std::size_t marks_batch = 512;

    void flush_marks() const {
        if (db_->marks_.empty()) return;
        allocation::detail::TakenMarks marks(db_->marks_);
        run("writing delivery marks", [&](pqxx::transaction_base& tx) {
            detail::write_marks(tx, marks.ids(), outbox_microseconds(marks.at()));
        });
        marks.done();
    }

    // One statement on a connection of its own, in its own transaction.
    template <typename Fn>
    auto run(std::string_view doing, Fn&& fn) const -> std::invoke_result_t<Fn&, pqxx::transaction_base&> {
        return db_->one_statement(doing, fn);
    }

    Database* db_;
};

static_assert(ports::diagnose_outbox<Outbox>());

}  // namespace allocation::postgres
