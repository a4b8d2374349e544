// The stored allocations view of an SQL adapter, for queries, written once; each adapter supplies how to run one
// statement of the view on a connection of its own.
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
/// `Access` is the adapter's: `Access::Database`, and `run(doing, fn)`, which calls `fn(rows)` on a connection of
/// its own, `rows` having the view's statements `add`, `remove` and `allocations` over `const std::string&`, and
/// translates its library's errors into StorageError saying what it was `doing`.
template <typename Access>
class StoredAllocationsView {
public:
    explicit StoredAllocationsView(typename Access::Database& db) noexcept : access_{&db} {}

    void add(std::string_view orderid, std::string_view sku, std::string_view batchref) {
        const std::string o(orderid), s(sku), b(batchref);
        access_.run("adding to the allocations view", [&](auto& rows) { rows.add(o, s, b); });
    }

    void remove(std::string_view orderid, std::string_view sku) {
        const std::string o(orderid), s(sku);
        access_.run("removing from the allocations view", [&](auto& rows) { rows.remove(o, s); });
    }

    std::vector<ports::AllocationRow> allocations(std::string_view orderid) const {
        const std::string o(orderid);
        return access_.run("reading the allocations view", [&](auto& rows) { return rows.allocations(o); });
    }

private:
    Access access_;
};

}  // namespace allocation::detail
