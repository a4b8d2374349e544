// RFC 9112's framing rules over the fields of a request head.
#include "allocation/adapters/http/framing.hpp"

#include <algorithm>
#include <cctype>

namespace allocation::http {

namespace {

std::string_view trimmed(std::string_view text) {
    auto is_space = [](char c) { return c == ' ' || c == '\t'; };
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    return text;
}

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

// The coding names of every Transfer-Encoding line in order, lower-case, without their parameters; the empty
// elements a list may hold are skipped.
std::vector<std::string> codings_of(const std::vector<std::string_view>& lines) {
    std::vector<std::string> codings;
    for (std::string_view line : lines) {
        while (!line.empty()) {
            const auto comma = line.find(',');
            const std::string_view element = line.substr(0, comma);
            line = comma == std::string_view::npos ? std::string_view{} : line.substr(comma + 1);
            const std::string_view name = trimmed(element.substr(0, element.find(';')));
            if (!trimmed(element).empty()) codings.push_back(lower(name));
        }
    }
    return codings;
}

Framing refused(int status, std::string message) { return {status, std::move(message), true}; }

Framing framing_of_codings(const std::vector<std::string>& codings) {
    if (codings.empty() || codings.back() != "chunked") {
        return refused(400, "Transfer-Encoding must end with chunked: the length of the body cannot be known");
    }
    if (std::count(codings.begin(), codings.end(), "chunked") > 1) {
        return refused(400, "Transfer-Encoding names chunked more than once");
    }
    for (const std::string& coding : codings) {
        if (coding != "chunked") return refused(501, "Transfer-Encoding '" + coding + "' is not implemented");
    }
    return {};
}

}  // namespace

Framing framing_of(const Head& head) {
    if (head.hosts > 1 || (head.hosts == 0 && head.version >= 11)) {
        return refused(400, "A request must carry exactly one Host header");
    }
    if (head.transfer_encodings.empty()) return {};
    if (head.content_length) return refused(400, "A request must not carry both Transfer-Encoding and Content-Length");
    Framing framing = framing_of_codings(codings_of(head.transfer_encodings));
    if (framing.status == 0) framing.last_request = head.version < 11;
    return framing;
}

}  // namespace allocation::http
