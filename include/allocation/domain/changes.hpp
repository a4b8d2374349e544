// The change journal of a product: what changed since it was loaded, which adapters write on commit and the
// in-memory adapter undoes on rollback, so that nobody copies a whole aggregate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <variant>

#include "allocation/domain/order_line.hpp"
#include "allocation/domain/rules.hpp"

namespace allocation {

/// What happened to a product since it was loaded (or last committed). Adapters write exactly these on
/// commit; the in-memory adapter undoes exactly these on rollback.
namespace changes {
struct BatchAdded {
    std::uint32_t slot;
};
struct LineAllocated {
    std::uint32_t slot;
    OrderLine line;
};
struct LineDeallocated {
    std::uint32_t slot;
    OrderLine line;
};
struct QuantityChanged {
    std::uint32_t slot;
    Quantity previous;
};
/// A deallocated line that no batch could take joined the end of the waiting lines.
struct WaitingLineAdded {
    OrderLine line;
};
/// A waiting line left the waiting lines from `position` (to be allocated: a LineAllocated follows).
struct WaitingLineRemoved {
    std::size_t position;
    OrderLine line;
};
using Change = std::variant<BatchAdded, LineAllocated, LineDeallocated, QuantityChanged, WaitingLineAdded,
                            WaitingLineRemoved>;
}  // namespace changes

}  // namespace allocation
