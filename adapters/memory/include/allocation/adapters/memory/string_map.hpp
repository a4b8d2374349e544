// Maps keyed by std::string that can be searched with a string_view, without a temporary string.
#pragma once

#include <functional>
#include <string>
#include <unordered_map>

#include "allocation/detail/string_hash.hpp"

namespace allocation::memory {

namespace detail {
template <typename T>
using StringMap = std::unordered_map<std::string, T, allocation::detail::StringHash, std::equal_to<>>;
}  // namespace detail

}  // namespace allocation::memory
