// Events: facts the domain raised. An event may have several handlers, or none.
#pragma once

#include <string>
#include <variant>

namespace allocation::events {

/// A line went to a batch.
struct Allocated {
    std::string orderid;
    std::string sku;
    int qty = 0;
    std::string batchref;
    friend bool operator==(const Allocated&, const Allocated&) = default;
};

/// A line was taken out of a batch (its quantity shrank). The same change allocated it again (Allocated) or left it
/// waiting for stock (OutOfStock).
struct Deallocated {
    std::string orderid;
    std::string sku;
    int qty = 0;
    friend bool operator==(const Deallocated&, const Deallocated&) = default;
};

/// No batch of the SKU could take a line: a new one (which is not kept) or a deallocated one (which waits).
struct OutOfStock {
    std::string sku;
    friend bool operator==(const OutOfStock&, const OutOfStock&) = default;
};

using Event = std::variant<Allocated, Deallocated, OutOfStock>;

}  // namespace allocation::events
