// The allocations read model port (CQRS): order id -> [(sku, batchref)], kept up to date by event handlers.
#pragma once

#include <concepts>
#include <string>
#include <string_view>
#include <vector>

namespace allocation::ports {

/// One row of the allocations view.
struct AllocationRow {
    std::string sku;
    std::string batchref;
    friend bool operator==(const AllocationRow&, const AllocationRow&) = default;
};

/// The denormalised view that answers "where did order X go?" without touching the write model.
///
/// - `add` records that a line of `orderid` for `sku` sits in batch `batchref` (adding the same row again
///   keeps one row); `remove` forgets the row of `orderid` for `sku`, if there is one.
/// - `allocations` returns the rows of an order in the order they were added; empty when none.
/// - Every member may be called from several threads at once.
template <typename V>
concept AllocationsView = requires(V& view, const V& const_view, std::string_view orderid, std::string_view sku,
                                   std::string_view batchref) {
    { view.add(orderid, sku, batchref) };
    { view.remove(orderid, sku) };
    { const_view.allocations(orderid) } -> std::same_as<std::vector<AllocationRow>>;
};

/// Names, one sentence per requirement, what keeps V from being an AllocationsView.
/// Beside an adapter: `static_assert(diagnose_allocations_view<V>());`
template <typename V>
consteval bool diagnose_allocations_view() {
    static_assert(requires(V& view, std::string_view id) { view.add(id, id, id); },
                  "an AllocationsView needs `void add(std::string_view orderid, std::string_view sku, "
                  "std::string_view batchref)`");
    static_assert(requires(V& view, std::string_view id) { view.remove(id, id); },
                  "an AllocationsView needs `void remove(std::string_view orderid, std::string_view sku)`");
    static_assert(requires(const V& view, std::string_view orderid) {
        { view.allocations(orderid) } -> std::same_as<std::vector<AllocationRow>>;
    }, "an AllocationsView needs `std::vector<AllocationRow> allocations(std::string_view orderid) const`");
    return AllocationsView<V>;
}

}  // namespace allocation::ports
