// SQLite Outbox: one table, written by each unit of work's commit, claimed and marked by relays.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>

#include "allocation/adapters/sqlite/database.hpp"
#include "allocation/adapters/sqlite/errors.hpp"
#include "allocation/adapters/sqlite/statements.hpp"
#include "allocation/adapters/sqlite/transaction.hpp"
#include "allocation/detail/sql_outbox.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/outbox.hpp"
#include "allocation/ports/outbox.hpp"
#include "allocation/serialisation/json.hpp"

namespace allocation::sqlite {

namespace detail {

/// Stores one row, in the transaction of the commit that raised its event.
inline void outbox_insert(Statements& st, const ports::OutboxMessage& message) {
    const std::string type(event_type(message.event)), payload = to_json(message.event);
    Use query(st.outbox_insert);
    bind_text(st.outbox_insert, 1, message.sku);
    st.outbox_insert.bind(2, message.version);
    st.outbox_insert.bind(3, message.position);
    bind_text(st.outbox_insert, 4, type);
    bind_text(st.outbox_insert, 5, payload);
    st.outbox_insert.bind(6, outbox_microseconds(message.created_at));
    st.outbox_insert.bind(7, outbox_microseconds(message.next_attempt_at));
    query->exec();
}

/// The stored version of product `sku` and the position of its next row at that version: where the rows of a
/// product that this commit did not change go (its read version may be older than the stored one).
inline std::pair<std::int64_t, std::int64_t> outbox_next_position(Statements& st, const std::string& sku) {
    Use query(st.outbox_next_position);
    bind_text(st.outbox_next_position, 1, sku);
    if (!query->executeStep()) throw StorageError("product " + sku + " has no stored row for its outbox rows");
    return {query->getColumn(OutboxNextPositionQuery::version).getInt64(),
            query->getColumn(OutboxNextPositionQuery::position).getInt64()};
}

/// One row, read by a query with OutboxColumns, and its commit order.
inline std::pair<std::int64_t, ports::OutboxMessage> read_outbox_row(SQLite::Statement& query) {
    using C = OutboxColumns;
    ports::OutboxMessage message;
    message.sku = query.getColumn(C::sku).getString();
    message.version = query.getColumn(C::version).getInt64();
    message.position = query.getColumn(C::position).getInt64();
    message.id = outbox_id(message.sku, message.version, message.position);
    message.event = event_from_json(query.getColumn(C::type).getString(), query.getColumn(C::payload).getString());
    message.created_at = outbox_time(query.getColumn(C::created_at).getInt64());
    message.attempts = query.getColumn(C::attempts).getInt();
    message.last_error = query.getColumn(C::last_error).getString();
    message.next_attempt_at = outbox_time(query.getColumn(C::next_attempt_at).getInt64());
    return {query.getColumn(C::seq).getInt64(), std::move(message)};
}

/// Every row the statement returns, oldest first.
inline std::vector<ports::OutboxMessage> read_outbox_rows(SQLite::Statement& query) {
    std::vector<std::pair<std::int64_t, ports::OutboxMessage>> rows;
    while (query.executeStep()) rows.push_back(read_outbox_row(query));
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<ports::OutboxMessage> messages;
    messages.reserve(rows.size());
    for (auto& row : rows) messages.push_back(std::move(row.second));
    return messages;
}

/// Binds the parts of outbox id `key` as ?1, ?2, ?3; `sku` holds the SKU's text until the statement has run.
inline void bind_outbox_key(SQLite::Statement& statement, const OutboxKey& key, const std::string& sku) {
    bind_text(statement, 1, sku);
    statement.bind(2, key.version);
    statement.bind(3, key.position);
}

/// Marks the rows of `ids` delivered at `at`, in the caller's write transaction. An id that outbox_id did not make
/// names no row.
inline void write_marks(Statements& st, const std::vector<std::string>& ids, std::int64_t at) {
    for (const std::string& id : ids) {
        const auto key = parse_outbox_id(id);
        if (!key) continue;
        const std::string sku(key->sku);
        Use query(st.outbox_delivered);
        bind_outbox_key(st.outbox_delivered, *key, sku);
        st.outbox_delivered.bind(4, at);
        query->exec();
    }
}

/// The outbox's statements on one connection, in its transaction if one is open, for allocation::detail::SqlOutbox.
struct OutboxRows {
    Statements* st;

    std::vector<ports::OutboxMessage> undelivered(std::int64_t limit) {
        Use query(st->outbox_undelivered);
        st->outbox_undelivered.bind(1, limit);
        return read_outbox_rows(st->outbox_undelivered);
    }
    std::vector<ports::OutboxMessage> claim(const std::string& owner, std::int64_t now, std::int64_t lease_until,
                                            std::int64_t limit) {
        Use query(st->outbox_claim);
        bind_text(st->outbox_claim, 1, owner);
        st->outbox_claim.bind(2, now);
        st->outbox_claim.bind(3, lease_until);
        st->outbox_claim.bind(4, limit);
        return read_outbox_rows(st->outbox_claim);
    }
    bool failed(const OutboxKey& key, const std::string& owner, std::int64_t next_attempt_at,
                const std::string& error) {
        bind_text(st->outbox_failed, 4, owner);
        st->outbox_failed.bind(5, next_attempt_at);
        bind_text(st->outbox_failed, 6, error);
        return update_row(st->outbox_failed, key);
    }
    bool release(const OutboxKey& key, const std::string& owner) {
        bind_text(st->outbox_release, 4, owner);
        return update_row(st->outbox_release, key);
    }
    ports::OutboxBacklog backlog() {
        Use query(st->outbox_backlog);
        query->executeStep();
        ports::OutboxBacklog backlog;
        backlog.undelivered = static_cast<std::size_t>(query->getColumn(OutboxBacklogQuery::undelivered).getInt64());
        const auto oldest = query->getColumn(OutboxBacklogQuery::oldest);
        if (!oldest.isNull()) backlog.oldest = outbox_time(oldest.getInt64());
        return backlog;
    }
    std::size_t purge(std::int64_t delivered_before) {
        Use query(st->outbox_purge);
        st->outbox_purge.bind(1, delivered_before);
        return static_cast<std::size_t>(query->exec());
    }

private:
    // Runs `statement`, the rest of whose parameters are bound, for the row of `key` (bound as ?1..?3); true when it
    // changed the row.
    static bool update_row(SQLite::Statement& statement, const OutboxKey& key) {
        const std::string sku(key.sku);
        Use query(statement);
        bind_outbox_key(statement, key, sku);
        return query->exec() == 1;
    }
};

}  // namespace detail

/// The stored outbox, for relays: see allocation::detail::SqlOutbox. Each call takes a connection nobody else is
/// using; claims run in a write transaction (BEGIN IMMEDIATE), so relays in several threads or processes on one file
/// never claim one row at once. Delivery marks wait in memory for the next write transaction of the database (a unit
/// of work's commit, a claim, a purge) or flush(): delivering takes no turn of the single writer of its own.
class Outbox : public allocation::detail::SqlOutbox<Outbox> {
    friend class allocation::detail::SqlOutbox<Outbox>;

    // No number of held marks is written by itself: they wait for the next write transaction.
    static constexpr std::size_t marks_batch = std::numeric_limits<std::size_t>::max();

public:
    explicit Outbox(Database& db) noexcept : SqlOutbox(db.marks_), db_(&db) {}

private:
    template <typename Fn>
    auto read(std::string_view doing, Fn&& fn) const -> std::invoke_result_t<Fn&, detail::OutboxRows&> {
        auto lease = db_->lease();
        return translated(doing, [&] {
            detail::OutboxRows rows{&lease.statements()};
            return fn(rows);
        });
    }

    // One write transaction: the marks held in memory first, then `fn`. Threads of this process take turns on the
    // writer lock, as units of work do; other processes meet in SQLite's busy handler.
    template <typename Fn>
    auto write(std::string_view doing, Fn&& fn) const -> std::invoke_result_t<Fn&, detail::OutboxRows&> {
        auto lease = db_->lease();
        std::lock_guard writer(db_->writer_);
        return translated(doing, [&] {
            auto& st = lease.statements();
            detail::Transaction transaction(lease.connection().db, st.begin_write, st.commit);
            allocation::detail::TakenMarks taken(marks());
            detail::write_marks(st, taken.ids(), outbox_microseconds(taken.at()));
            detail::OutboxRows rows{&st};
            auto result = fn(rows);
            transaction.commit();
            taken.done();
            return result;
        });
    }

    // A write like any other: the held marks go with it.
    template <typename Fn>
    auto update(std::string_view doing, Fn&& fn) const -> std::invoke_result_t<Fn&, detail::OutboxRows&> {
        return write(doing, fn);
    }

    void flush_marks() const {
        if (!marks().empty()) write("writing delivery marks", [](detail::OutboxRows&) { return 0; });
    }

    // `fn()`, with SQLite's errors translated into StorageError saying what it was `doing`.
    template <typename Fn>
    auto translated(std::string_view doing, Fn&& fn) const -> std::invoke_result_t<Fn&> {
        try {
            return fn();
        } catch (const SQLite::Exception& e) {
            throw StorageError(detail::describe(db_->options().path, doing, e.what()));
        }
    }

    Database* db_;
};

static_assert(ports::diagnose_outbox<Outbox>());

}  // namespace allocation::sqlite
