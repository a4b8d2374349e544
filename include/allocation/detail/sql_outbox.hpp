// The Outbox port of an SQL adapter, written once: which statement each member runs, and which of them the delivery
// marks held in memory must precede; each adapter supplies its statements and how it runs them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "allocation/outbox.hpp"
#include "allocation/ports/outbox.hpp"

namespace allocation::detail {

/// The stored outbox, for relays (ports::Outbox). Each statement runs on a connection nobody else is using, so the
/// outbox may be used from several threads at once. The Database must outlive it. Units of work write its rows, in
/// the transaction of their commit.
///
/// Delivery marks are held in memory, in the Database's PendingMarks (`marks()`), and written before (or with) the
/// statements that must not show a delivered row as undelivered: a listing, a claim, a count and a purge; also at
/// flush(), and as soon as `Outbox::marks_batch` of them are held.
///
/// `Outbox` is the adapter's outbox, derived from SqlOutbox<Outbox> (made with its Database's PendingMarks), which
/// it befriends. It supplies `marks_batch`, `flush_marks()`, which writes the held marks (nothing when there are
/// none), and three ways to call `fn(rows)` on a connection of its own, each translating its library's errors into
/// StorageError saying what it was `doing`:
/// - `read(doing, fn)`: a statement that reads;
/// - `write(doing, fn)`: a statement that writes, once the held marks are written (before it, or in its
///   transaction);
/// - `update(doing, fn)`: a statement that changes one leased row, which need not follow the held marks.
///
/// `rows` has the outbox's statements, times as outbox_microseconds: `undelivered(limit)` and
/// `claim(owner, now, lease_until, limit)`, each returning rows oldest first; `failed(key, owner,
/// next_attempt_at, error)` and `release(key, owner)`, each true when it changed the row; `backlog()`;
/// `purge(delivered_before)`, the number of rows it deleted. `key` is an OutboxKey; strings are
/// `const std::string&`, alive until the statement has run.
template <typename Outbox>
class SqlOutbox {
public:
    std::vector<ports::OutboxMessage> undelivered(std::size_t limit) const {
        self().flush_marks();
        return self().read("listing the outbox", [&](auto& rows) { return rows.undelivered(bounded(limit)); });
    }

    std::vector<ports::OutboxMessage> claim(std::string_view owner, ports::OutboxTime now,
                                            ports::OutboxTime lease_until, std::size_t limit) {
        const std::string owner_text(owner);
        return self().write("claiming outbox rows", [&](auto& rows) {
            return rows.claim(owner_text, outbox_microseconds(now), outbox_microseconds(lease_until), bounded(limit));
        });
    }

    /// Held in memory until a statement that must see them, flush(), or `Outbox::marks_batch` held marks.
    void mark_delivered(std::span<const std::string> ids, ports::OutboxTime now) {
        if (marks_->add(ids, now) >= Outbox::marks_batch) self().flush_marks();
    }

    /// Writes the marks held in memory; nothing when there are none.
    void flush() { self().flush_marks(); }

    /// An id that outbox_id did not make names no row.
    bool record_failure(std::string_view id, std::string_view owner, ports::OutboxTime next_attempt_at,
                        std::string_view error) {
        const auto key = parse_outbox_id(id);
        if (!key) return false;
        const std::string owner_text(owner), error_text(error);
        return self().update("recording a failed delivery", [&](auto& rows) {
            return rows.failed(*key, owner_text, outbox_microseconds(next_attempt_at), error_text);
        });
    }

    /// An id that outbox_id did not make names no row.
    void release(std::string_view id, std::string_view owner) {
        const auto key = parse_outbox_id(id);
        if (!key) return;
        const std::string owner_text(owner);
        self().update("releasing an outbox row", [&](auto& rows) { return rows.release(*key, owner_text); });
    }

    ports::OutboxBacklog backlog() const {
        self().flush_marks();
        return self().read("reading the outbox's backlog", [](auto& rows) { return rows.backlog(); });
    }

    std::size_t purge_delivered(ports::OutboxTime delivered_before) {
        return self().write("purging delivered outbox rows",
                            [&](auto& rows) { return rows.purge(outbox_microseconds(delivered_before)); });
    }

protected:
    /// `marks`: the Database's, shared with everything else that writes it.
    explicit SqlOutbox(PendingMarks& marks) noexcept : marks_(&marks) {}

    PendingMarks& marks() const noexcept { return *marks_; }

private:
    const Outbox& self() const noexcept { return static_cast<const Outbox&>(*this); }

    static std::int64_t bounded(std::size_t limit) noexcept {
        return static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX));
    }

    PendingMarks* marks_;
};

}  // namespace allocation::detail
