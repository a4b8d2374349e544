// The one hash for maps keyed by std::string: transparent, so that a string_view finds a key without a temporary.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

namespace allocation::detail {

/// Hashes std::string, string_view and string literals alike (with std::equal_to<> for heterogeneous lookup).
struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
};

}  // namespace allocation::detail
