// Products kept by a connection from one unit of work to the next (allocation::detail::ProductCache).
#pragma once

#include "allocation/detail/product_cache.hpp"

namespace allocation::sqlite::detail {

using allocation::detail::LoadedProduct;
using allocation::detail::ProductCache;

}  // namespace allocation::sqlite::detail
