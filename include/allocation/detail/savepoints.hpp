// Savepoints of a unit of work's products (ports::Savepoints), written once for every adapter: where each product
// handed out so far stood, to come back to without losing what came before.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "allocation/domain/product.hpp"

namespace allocation::detail {

/// Where the products a unit of work had handed out stood: the Product::Savepoint of each, in the order they were
/// handed out.
struct ProductsSavepoint {
    std::vector<Product::Savepoint> products;
};

inline ProductsSavepoint products_savepoint(std::span<Product* const> seen) {
    ProductsSavepoint point;
    point.products.reserve(seen.size());
    for (const Product* product : seen) point.products.push_back(product->savepoint());
    return point;
}

/// Undoes what the products did since `point`, newest first: a product handed out since loses every change not
/// committed; the others go back to where they stood. The caller forgets the products created since.
inline void rollback_products(std::span<Product* const> seen, const ProductsSavepoint& point) noexcept {
    for (std::size_t i = seen.size(); i-- > 0;) {
        if (i < point.products.size()) {
            seen[i]->rollback_to(point.products[i]);
        } else {
            seen[i]->discard_changes();
        }
    }
}

}  // namespace allocation::detail
