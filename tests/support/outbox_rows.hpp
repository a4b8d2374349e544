// What the outbox and relay tests share: committing one allocation, and the ids of a list of rows.
#pragma once

#include <string>
#include <vector>

#include "allocation/domain/model.hpp"
#include "allocation/ports/outbox.hpp"

namespace allocation::testing {

/// Allocates a line in a unit of work of its own and commits; true when the line found stock (an Allocated
/// row), false when it did not (an OutOfStock row).
template <typename Factory>
bool commit_allocation(Factory factory, const std::string& orderid, const std::string& sku, int qty) {
    auto uow = factory();
    const bool allocated = uow.products().get_for_order(sku, orderid)->allocate(OrderLine{orderid, sku, qty}).has_value();
    uow.commit();
    return allocated;
}

inline std::vector<std::string> ids_of(const std::vector<ports::OutboxMessage>& rows) {
    std::vector<std::string> ids;
    for (const auto& row : rows) ids.push_back(row.id);
    return ids;
}

}  // namespace allocation::testing
