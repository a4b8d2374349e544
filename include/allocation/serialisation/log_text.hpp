// Text of any origin made fit for one line of a log: whatever a request, a broker, a database or a mail server said.
#pragma once

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "allocation/detail/utf8.hpp"

namespace allocation {

/// The longest text log_text keeps, in bytes, before it cuts.
inline constexpr std::size_t log_text_limit = 2048;

/// `text` as one line of a log that nobody can forge or flood: control characters (a newline, ESC, NUL, C1)
/// written as \xHH per byte, bytes that are not valid UTF-8 replaced by U+FFFD, and at most `limit` bytes kept,
/// the cut marked with how much was left out. Printable text, backslashes included, is kept as it is.
inline std::string log_text(std::string_view text, std::size_t limit = log_text_limit) {
    static constexpr std::string_view replacement = "\xef\xbf\xbd";
    const auto plain = [](char c) { return c >= 0x20 && c < 0x7f; };
    if (text.size() <= limit && std::all_of(text.begin(), text.end(), plain)) return std::string(text);
    std::string out;
    out.reserve(text.size() < limit ? text.size() : limit);
    std::size_t at = 0;
    while (at < text.size()) {
        const std::size_t length = detail::utf8_sequence_length(text.substr(at));
        const std::string_view sequence = text.substr(at, length == 0 ? 1 : length);
        const bool control = length != 0 && detail::is_control(sequence);
        const std::size_t cost = length == 0 ? replacement.size() : control ? 4 * sequence.size() : sequence.size();
        if (out.size() + cost > limit) break;
        if (length == 0) {
            out += replacement;
        } else if (control) {
            for (unsigned char c : sequence) fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
        } else {
            out += sequence;
        }
        at += sequence.size();
    }
    if (at < text.size()) fmt::format_to(std::back_inserter(out), " [cut: {} more bytes]", text.size() - at);
    return out;
}

}  // namespace allocation
