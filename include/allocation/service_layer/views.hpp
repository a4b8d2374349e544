// Queries of the read side (CQRS): answered from the read model, never from the write model, except for a
// product's stock, which has no read model of its own and is read in a unit of work that changes nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "allocation/domain/model.hpp"
#include "allocation/ports/unit_of_work.hpp"
#include "allocation/ports/views.hpp"

namespace allocation::views {

/// [(sku, batchref)] of an order, as the read model has it; empty when the order has no allocations.
template <ports::AllocationsView V>
std::vector<ports::AllocationRow> allocations(std::string_view orderid, const V& view) {
    return view.allocations(orderid);
}

/// One batch of a product's stock.
struct BatchStock {
    std::string ref;
    std::optional<Date> eta;
    Quantity purchased = 0, allocated = 0, available = 0;
    friend bool operator==(const BatchStock&, const BatchStock&) = default;
};

/// A line waiting for stock.
struct WaitingLine {
    std::string orderid;
    Quantity qty = 0;
    friend bool operator==(const WaitingLine&, const WaitingLine&) = default;
};

/// A product as its last commit left it: its version, its batches in the order they were added, and its waiting
/// lines, oldest first.
struct ProductStock {
    std::string sku;
    std::int64_t version = 0;
    std::vector<BatchStock> batches;
    std::vector<WaitingLine> waiting;
    friend bool operator==(const ProductStock&, const ProductStock&) = default;
};

/// The stock of the product `sku`, or nothing when no batch of it was ever created. Reads in a unit of work of
/// its own and leaves it without committing: nothing is changed, and nothing of another unit of work is seen.
template <ports::UnitOfWorkFactory F>
std::optional<ProductStock> product(std::string_view sku, F& factory) {
    auto uow = factory();
    const Product* product = uow.products().get(sku);
    if (product == nullptr) return std::nullopt;
    ProductStock stock{product->sku(), product->version_number(), {}, {}};
    for (const Batch& batch : product->batches()) {
        stock.batches.push_back({batch.reference(), batch.eta(), batch.purchased_quantity(), batch.allocated_quantity(),
                                 batch.available_quantity()});
    }
    for (const OrderLine& line : product->waiting()) stock.waiting.push_back({line.orderid, line.qty});
    return stock;
}

}  // namespace allocation::views
