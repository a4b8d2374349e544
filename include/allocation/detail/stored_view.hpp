// The stored allocations view of an SQL adapter, for queries, written once; each adapter supplies the view's
// statements and how its database runs one statement on a connection of its own.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "allocation/ports/views.hpp"

namespace allocation::detail {

/// The stored read model, for queries (and for tools that maintain it by hand). Each call takes a connection nobody
/// else is using for one statement (its own transaction), so the view may be used from several threads at once.
/// The database must outlive it. The bus itself writes the view through each unit of work, in the same transaction
/// as the products.
///
/// The adapter supplies:
/// - `Database`, whose `one_statement(doing, fn)` calls `fn(on)` on a connection of its own, `on` being what its
///   statements run on, and translates its library's errors into StorageError saying what it was `doing` (the
///   Database befriends this template when that member is private);
/// - the view's statements over `on`, with `const std::string&` arguments: `add_row(on, orderid, sku, batchref)`,
///   `remove_row(on, orderid, sku)` and `read_rows(on, orderid)`, the rows of an order.
template <typename Database, auto add_row, auto remove_row, auto read_rows>
class StoredAllocationsView {
public:
    explicit StoredAllocationsView(Database& db) noexcept : db_(&db) {}

    void add(std::string_view orderid, std::string_view sku, std::string_view batchref) {
        const std::string o(orderid), s(sku), b(batchref);
        db_->one_statement("adding to the allocations view", [&](auto& on) { add_row(on, o, s, b); });
    }

    void remove(std::string_view orderid, std::string_view sku) {
        const std::string o(orderid), s(sku);
        db_->one_statement("removing from the allocations view", [&](auto& on) { remove_row(on, o, s); });
    }

    std::vector<ports::AllocationRow> allocations(std::string_view orderid) const {
        const std::string o(orderid);
        return db_->one_statement("reading the allocations view", [&](auto& on) { return read_rows(on, o); });
    }

private:
    Database* db_;
};

}  // namespace allocation::detail
