// Maps keyed by std::string that can be searched with a string_view, without a temporary string.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace allocation::memory {

namespace detail {
/// Lets unordered maps keyed by std::string be searched with a string_view, without a temporary string.
struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
};
template <typename T>
using StringMap = std::unordered_map<std::string, T, StringHash, std::equal_to<>>;
}  // namespace detail

}  // namespace allocation::memory
