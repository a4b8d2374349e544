// Queries of the read side (CQRS): answered from the read model, never from the write model.
#pragma once

#include <string_view>
#include <vector>

#include "allocation/ports/views.hpp"

namespace allocation::views {

/// [(sku, batchref)] of an order, as the read model has it; empty when the order has no allocations.
template <ports::AllocationsView V>
std::vector<ports::AllocationRow> allocations(std::string_view orderid, const V& view) {
    return view.allocations(orderid);
}

}  // namespace allocation::views
