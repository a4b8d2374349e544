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

}  // namespace allocation::ports
