// Text from a request made safe for the log, and the request ids the log lines carry.
#include "allocation/adapters/http/log.hpp"

#include <algorithm>
#include <iterator>
#include <random>

#include <fmt/format.h>

namespace allocation::http {

std::string escape_for_log(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if (c > 0x20 && c < 0x7f && c != '\\') {
            out.push_back(static_cast<char>(c));
        } else {
            fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
        }
    }
    return out;
}

std::string request_id_from(std::string_view candidate) {
    auto sane = [](unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
               c == '.' || c == ':' || c == '/';
    };
    if (!candidate.empty() && candidate.size() <= 128 && std::all_of(candidate.begin(), candidate.end(), sane)) {
        return std::string(candidate);
    }
    thread_local std::mt19937_64 random{std::random_device{}()};
    return fmt::format("{:016x}", random());
}

}  // namespace allocation::http
