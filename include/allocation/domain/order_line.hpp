// The order line: a value, what a customer asks for of one SKU.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "allocation/domain/rules.hpp"

namespace allocation {

/// A customer's request for `qty` units of `sku`, part of order `orderid`. A value. An order has at most one
/// line per SKU, so the read model's (orderid, sku) rows and Deallocated's (orderid, sku) name exactly one line.
struct OrderLine {
    std::string orderid;
    std::string sku;
    Quantity qty = 0;
    friend auto operator<=>(const OrderLine&, const OrderLine&) = default;
};

/// Hashes every field of an order line, for sets and maps of lines.
struct OrderLineHash {
    std::size_t operator()(const OrderLine& line) const noexcept {
        std::size_t h = std::hash<std::string_view>{}(line.orderid);
        h ^= std::hash<std::string_view>{}(line.sku) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
        h ^= std::hash<Quantity>{}(line.qty) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
        return h;
    }
};


}  // namespace allocation
