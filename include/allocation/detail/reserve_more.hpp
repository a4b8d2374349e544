// Room made ahead in a vector, so that the appends of a strongly exception-safe change cannot throw.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace allocation::detail {

/// Makes room for `count` more elements (growing geometrically), so that appending them cannot throw.
template <typename T>
void reserve_more(std::vector<T>& vector, std::size_t count) {
    const std::size_t needed = vector.size() + count;
    if (needed > vector.capacity()) vector.reserve(std::max(needed, 2 * vector.capacity()));
}

}  // namespace allocation::detail
