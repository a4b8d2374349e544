// The Outbox port: the events that must leave the process, stored with the change that raised them, and what a
// relay needs to deliver each of them at least once.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "allocation/domain/events.hpp"

namespace allocation::ports {

/// The outbox's clock: wall-clock time, so that times stored by one process mean the same to another.
using OutboxClock = std::chrono::system_clock;
using OutboxTime = OutboxClock::time_point;

/// One stored event that must leave the process (allocation::leaves_the_process), as its handlers and the relay
/// see it.
struct OutboxMessage {
    /// allocation::outbox_id(sku, version, position): unique, never reused, and in the order the product's
    /// events were committed when ids of one SKU are sorted as strings. Consumers use it as the message id.
    std::string id;
    std::string sku;
    /// The version of the product the row was committed with.
    std::int64_t version = 0;
    /// Its position among the rows committed with that version of the product, from 0.
    std::int64_t position = 0;
    /// The event. Its type names the row ("Allocated", "OutOfStock": allocation::event_type), and storages keep
    /// it in the book's JSON (allocation::to_json).
    events::Event event;
    /// When the change that raised it was committed.
    OutboxTime created_at{};
    /// Failed deliveries so far, and the last one's reason.
    int attempts = 0;
    std::string last_error;
    /// No relay claims it before then: the handoff after its commit (allocation::outbox_handoff), then the backoff
    /// after a failure.
    OutboxTime next_attempt_at{};
    friend bool operator==(const OutboxMessage&, const OutboxMessage&) = default;
};

/// What is still to be delivered.
struct OutboxBacklog {
    std::size_t undelivered = 0;
    /// created_at of the oldest undelivered row; empty when there is none.
    std::optional<OutboxTime> oldest;
    friend bool operator==(const OutboxBacklog&, const OutboxBacklog&) = default;
};

/// The transactional outbox: the relay's side of it.
///
/// Writing: every unit of work stores, in the same transaction as the products' changes, one row for each event
/// of its committed products that leaves the process (Allocated for the publisher, OutOfStock for the notifier:
/// allocation::leaves_the_process), exactly as it stores the read model, and hands the rows it stored to its
/// caller (ports::UnitOfWork::collect_outbox), who delivers them at once. A rolled-back unit of work, or a commit
/// that fails, leaves no row. The rows of one product are numbered by its version and their position, so their
/// ids are unique and sort oldest first. A new row is due only after allocation::outbox_handoff, the time its
/// committer has to deliver it before a relay may.
///
/// Reading and delivering, with `now` supplied by the caller (the relay's clock), so that every rule is
/// deterministic under a test's clock:
/// - `undelivered(limit)` lists up to `limit` undelivered rows, claimed or not, due or not, oldest first: in
///   the order they were committed (across products too).
/// - `claim(owner, now, lease_until, limit)` leases up to `limit` rows to `owner` until `lease_until` and
///   returns them, oldest first. It takes only rows that are undelivered, due (`next_attempt_at <= now`) and
///   not leased to anyone (or whose lease has expired, `lease_until <= now`). Claims are atomic, also between
///   processes on one database: while a lease lasts, no other claim returns that row, so two relays never
///   deliver the same row twice as long as each finishes a row within its lease.
/// - `mark_delivered(ids, now)` records that those rows were delivered (only call it once their handler
///   succeeded) and ends their leases; they are never handed out again. A storage may hold the record in memory
///   and write it with its next write (a commit, a claim, a purge) or at `flush()`, so that delivering costs no
///   write of its own; this outbox's undelivered(), claim() and backlog() never show a row marked here. Marks
///   that a crash loses only deliver their rows again (at least once).
/// - `flush()` writes the marks held in memory, if any.
/// - `record_failure(id, owner, next_attempt_at, error)` counts a failed attempt, keeps the reason, ends the
///   lease and makes the row due again at `next_attempt_at`. Only while `owner` holds the row's lease or nobody
///   does (a row its committer is delivering): false (and nothing changes) when someone else holds it, or the
///   row was delivered meanwhile.
/// - `release(id, owner)` ends `owner`'s lease on an undelivered row without counting an attempt (a relay
///   that stops before it got to the row); nothing happens if `owner` does not hold it.
/// - `backlog()` is the number of undelivered rows and the creation time of the oldest.
/// - `purge_delivered(delivered_before)` deletes the rows delivered before `delivered_before` and returns how many,
///   except each product's newest row, whatever its state: a product's next row is numbered after its newest
///   stored one, so keeping it keeps every id unique and ordered per product after a purge. Undelivered rows are
///   never deleted. An outbox that forgets rows as soon as they are delivered has none to delete and returns 0.
/// - Every member may be called from several threads at once, also while units of work commit.
template <typename O>
concept Outbox = requires(O& outbox, const O& const_outbox, std::size_t limit, std::string_view id,
                          std::string_view owner, std::string_view error, OutboxTime now,
                          std::span<const std::string> ids) {
    { const_outbox.undelivered(limit) } -> std::same_as<std::vector<OutboxMessage>>;
    { outbox.claim(owner, now, now, limit) } -> std::same_as<std::vector<OutboxMessage>>;
    { outbox.mark_delivered(ids, now) };
    { outbox.flush() };
    { outbox.record_failure(id, owner, now, error) } -> std::same_as<bool>;
    { outbox.release(id, owner) };
    { const_outbox.backlog() } -> std::same_as<OutboxBacklog>;
    { outbox.purge_delivered(now) } -> std::same_as<std::size_t>;
};

/// Names, one sentence per requirement, what keeps O from being an Outbox.
/// Beside an adapter: `static_assert(diagnose_outbox<O>());`
template <typename O>
consteval bool diagnose_outbox() {
    static_assert(requires(const O& outbox, std::size_t limit) {
        { outbox.undelivered(limit) } -> std::same_as<std::vector<OutboxMessage>>;
    }, "an Outbox needs `std::vector<OutboxMessage> undelivered(std::size_t limit) const`, oldest first");
    static_assert(requires(O& outbox, std::string_view owner, OutboxTime now, std::size_t limit) {
        { outbox.claim(owner, now, now, limit) } -> std::same_as<std::vector<OutboxMessage>>;
    }, "an Outbox needs `std::vector<OutboxMessage> claim(std::string_view owner, OutboxTime now, "
       "OutboxTime lease_until, std::size_t limit)`");
    static_assert(requires(O& outbox, std::span<const std::string> ids, OutboxTime now) {
        outbox.mark_delivered(ids, now);
    }, "an Outbox needs `void mark_delivered(std::span<const std::string> ids, OutboxTime now)`");
    static_assert(requires(O& outbox) { outbox.flush(); },
                  "an Outbox needs `void flush()`, writing the delivery marks it holds in memory");
    static_assert(requires(O& outbox, std::string_view text, OutboxTime now) {
        { outbox.record_failure(text, text, now, text) } -> std::same_as<bool>;
    }, "an Outbox needs `bool record_failure(std::string_view id, std::string_view owner, OutboxTime "
       "next_attempt_at, std::string_view error)`");
    static_assert(requires(O& outbox, std::string_view text) { outbox.release(text, text); },
                  "an Outbox needs `void release(std::string_view id, std::string_view owner)`");
    static_assert(requires(const O& outbox) {
        { outbox.backlog() } -> std::same_as<OutboxBacklog>;
    }, "an Outbox needs `OutboxBacklog backlog() const`");
    static_assert(requires(O& outbox, OutboxTime before) {
        { outbox.purge_delivered(before) } -> std::same_as<std::size_t>;
    }, "an Outbox needs `std::size_t purge_delivered(OutboxTime delivered_before)`");
    return Outbox<O>;
}

}  // namespace allocation::ports
