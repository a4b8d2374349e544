// The commit of an SQL adapter's unit of work: what it writes in its one transaction, in which order, and what it
// hands over afterwards, written once; each adapter supplies its statements and its transaction.
#pragma once

#include <concepts>
#include <cstdint>
#include <iterator>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "allocation/detail/loaded_products.hpp"
#include "allocation/domain/events.hpp"
#include "allocation/ports/outbox.hpp"
#include "allocation/view_changes.hpp"

namespace allocation::detail {

/// The statements of one commit, in the adapter's transaction:
/// - `write(entry)`: the product's recorded changes (allocation::detail::write_changes);
/// - `add(orderid, sku, batchref)`, `remove(orderid, sku)`: a row of the allocations view (the strings live until
///   the statement has run, so they may be bound without a copy);
/// - `outbox_next_position(sku)`: the pair (stored version, next position) of the product's outbox rows;
/// - `outbox_insert(message)`: one outbox row;
/// - `write_messages()`: the processed message ids the unit of work recorded (an id committed meanwhile by another
///   unit of work throws ConcurrencyError).
template <typename S>
concept CommitStatements = requires(S& s, LoadedProduct& entry, const std::string& text,
                                    const ports::OutboxMessage& message) {
    s.write(entry);
    s.add(text, text, text);
    s.remove(text, text);
    { s.outbox_next_position(text) } -> std::convertible_to<std::pair<std::int64_t, std::int64_t>>;
    s.outbox_insert(message);
    s.write_messages();
};

/// Writes what one commit stores, in this order: the products' changes, the view changes made through the unit
/// of work, the projection of the products' events (allocation::project_events), the outbox rows of the events
/// that leave the process (each also kept in `stored`, for collect_outbox), the processed message ids.
template <CommitStatements S>
void write_commit(S& statements, std::span<LoadedProduct* const> tracked, std::span<Product* const> seen,
                  const ViewChanges& view, std::vector<ports::OutboxMessage>& stored) {
    for (LoadedProduct* entry : tracked) statements.write(*entry);
    for (const ViewChanges::Change& change : view.pending()) {
        if (change.is_add) {
            statements.add(change.orderid, change.sku, change.batchref);
        } else {
            statements.remove(change.orderid, change.sku);
        }
    }
    project_events(seen, statements);
    const std::size_t first = stored.size();
    store_outbox_rows(
        tracked, [&](const std::string& sku) { return statements.outbox_next_position(sku); },
        [&]() -> ports::OutboxMessage& { return stored.emplace_back(); });
    for (std::size_t i = first; i < stored.size(); ++i) statements.outbox_insert(stored[i]);
    statements.write_messages();
}

/// The part of an SQL unit of work that commit and rollback share: the products it handed out (`Products`, an
/// allocation::detail::LoadedProducts), its pending view changes, its recorded message ids (`Messages`, with
/// `empty()` and `clear()`), and what its commits hand over (events, outbox rows). The unit of work owns the parts
/// it refers to and outlives it.
template <typename Products, typename Messages>
class SqlCommit {
public:
    SqlCommit(Products& products, ViewChanges& view, Messages& messages) noexcept
        : products_(products), view_(view), messages_(messages) {}
    SqlCommit(const SqlCommit&) = delete;
    SqlCommit& operator=(const SqlCommit&) = delete;

    /// Whether the commit has anything to write: changed products, view rows, outbox rows, message ids.
    bool has_work() const noexcept {
        return products_.has_work() || !view_.empty() || any_raises_outbound(products_.seen()) || !messages_.empty();
    }

    /// Commits through `in_transaction(write)`, the adapter's: it opens its transaction, calls `write(statements)`
    /// with its CommitStatements, commits, and translates its library's errors; it is not called when there is
    /// nothing to write. Once it returned, the products' events and the stored outbox rows are handed over.
    template <typename InTransaction>
    void commit(InTransaction&& in_transaction) {
        std::vector<ports::OutboxMessage> stored;
        if (has_work()) {
            in_transaction([&](auto& statements) {
                write_commit(statements, products_.tracked(), products_.seen(), view_, stored);
            });
        }
        products_.committed(events_);
        view_.clear();
        messages_.clear();
        outbox_.insert(outbox_.end(), std::make_move_iterator(stored.begin()), std::make_move_iterator(stored.end()));
    }

    /// Forgets what was not committed (the adapter ends its transaction, if one is open, itself).
    void rollback() noexcept {
        products_.discard();
        view_.clear();
        messages_.clear();
    }

    std::vector<events::Event> collect_new_events() { return std::exchange(events_, {}); }
    std::vector<ports::OutboxMessage> collect_outbox() { return std::exchange(outbox_, {}); }

private:
    Products& products_;
    ViewChanges& view_;
    Messages& messages_;
    std::vector<events::Event> events_;
    std::vector<ports::OutboxMessage> outbox_;  // the rows its commits stored, not yet collected
};

}  // namespace allocation::detail
